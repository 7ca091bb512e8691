import { request } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { operations } from "../../src/api/openapi.js";
import { FINAL_STATUSES } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/**
 * REST API fuzzing shared by test/fuzz/api.fuzz.test.ts (about 1,000 cases in CI) and
 * scripts/fuzz-api.ts (10,000, printing the counts). Requests go over real HTTP to a real
 * server started in-process (real SQLite, real service file system, the fake executor's
 * in-process builders); each is random in its route, path parameters (known names, unicode,
 * percent-encoding good and bad, very long), query, method, headers (content-type,
 * content-encoding, range, conditionals, authorization forms, accept) and body (JSON, near-valid
 * trigger bodies, text, bytes, chunked). The verdict per answer: below 500, and an error answer
 * is JSON `{"error", "code"}` that names no absolute path of the server.
 */

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Send the body chunked (no Content-Length). */
  chunked: boolean;
}

export interface FuzzOutcome {
  request: FuzzRequest;
  status: number;
  body: string;
  /** What is wrong with the answer; empty when it is fine. */
  problems: string[];
}

export interface FuzzReport {
  cases: number;
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
  failures: FuzzOutcome[];
  /** Lines the server logged as "request failed" (a 500's details). */
  serverErrors: string[];
  ms: number;
}

/** What the generators pick known-good values from: a real target, build key and artifact. */
export interface FuzzContext {
  target: string;
  key: string;
  file: string;
  token: string;
}

const ROUTES: [string, string][] = [
  ...Object.entries(operations).flatMap(([p, ops]) => Object.keys(ops).map((m): [string, string] => [m.toUpperCase(), p])),
  // The pull request artifact routes of the trust contract (a 404 until they are mounted).
  ["GET", "/builds/{key}/artifacts"],
  ["GET", "/builds/{key}/artifacts/{file}"],
  ["GET", "/events"],
  ["GET", "/openapi.json"],
  ["GET", "/{key}"],
];

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/** Percent-encodes every byte of the UTF-8 form but the unreserved ones (lone surrogates become U+FFFD). */
function encode(text: string): string {
  return [...Buffer.from(text, "utf8")].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");
}

// What Node's client lets into a request line: 0x21-0x7e here, minus the path's own delimiters.
const rawChars = [...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))].filter((c) => !"/?#".includes(c));
const nastySegments = [
  "%", "%%", "%zz", "%E0%A4%A", "%C0%AF", "%C0", "%ED%A0%80", "%FF%FE", "%u0041", "%00", "%0A", "%0D%0A", "..", ".", "%2e%2e", "%2E",
  "%2F", "..%2F..%2Fetc%2Fpasswd", "%5C..%5C", "builds.json", ".builds.lock", "%2Ebuilds.lock", "con", "__proto__", "constructor", "prototype", "-1", "0", "1e309", "null", "undefined", "%20", "+", "~",
];
const printable = fc.string({ unit: fc.constantFrom(...rawChars), maxLength: 40 });

function segment(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    // Known names half the time, so requests get past "not found" to the routes' own code.
    { weight: 14, arbitrary: fc.constantFrom(...known) },
    { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }).map(encode) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }).map(encode) },
    { weight: 3, arbitrary: printable },
    { weight: 3, arbitrary: fc.constantFrom(...nastySegments) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...known), fc.constantFrom(...nastySegments)).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 9000 }).map((n) => "k".repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 20, max: 600 }).map((n) => "%E2%82%AC".repeat(n)) },
  );
}

function query(route: string): fc.Arbitrary<string> {
  const value = fc.oneof(printable, fc.string({ unit: "grapheme", maxLength: 20 }).map(encode), fc.constantFrom("1", "true", "0", "-5", "1001", "50", "1e3", "NaN", "queued", "succeeded", "%", "%zz"));
  const known = route === "/builds" ? ["target", "status", "limit"] : route.endsWith("/log") ? ["follow"] : route === "/runners" ? ["target"] : ["x"];
  const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: fc.constantFrom("a[b]", "a[]", "__proto__", "constructor[prototype]", "%", "") }, { weight: 1, arbitrary: printable });
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant("") },
    { weight: 3, arbitrary: fc.array(fc.tuple(key, value), { maxLength: 4 }).map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k.replace(/[&=]/g, "")}=${v.replace(/&/g, "")}`).join("&")}` : "")) },
    // A second `follow` and array forms (`?status=a&status=b`) reach the routes as arrays.
    { weight: 1, arbitrary: fc.constantFrom("?status=queued&status=failed", "?target[]=hello", "?limit=1&limit=2", "?follow=1&follow=0", "?%zz=%zz", "?target=%E0%A4%A") },
  );
}

function body(ctx: FuzzContext): fc.Arbitrary<Buffer | undefined> {
  const anyString = fc.oneof(printable, fc.string({ unit: "grapheme", maxLength: 60 }), fc.constant(ctx.target), fc.constant(ctx.key));
  const triggerLike = fc.record(
    {
      target: fc.oneof(anyString, fc.jsonValue({ maxDepth: 1 })),
      ref: fc.oneof(anyString, fc.constantFrom("main", "refs/heads/main", "refs/tags/v1", "../x", "a..b", "-x", "refs/heads/@{1}"), fc.integer()),
      sha: fc.oneof(fc.stringMatching(/^[0-9a-f]{7,64}$/), anyString, fc.constant(null)),
      build: fc.oneof(anyString, fc.constant(ctx.key)),
    },
    { requiredKeys: [] },
  );
  const json = (v: fc.Arbitrary<unknown>) => v.map((x) => Buffer.from(JSON.stringify(x) ?? "null"));
  const valid = fc.record({ target: fc.constant(ctx.target), ref: fc.constantFrom("main", "refs/heads/main", "refs/tags/v1.0"), sha: fc.stringMatching(/^[0-9a-f]{40}$/) }, { requiredKeys: ["target"] });
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: json(valid) },
    { weight: 4, arbitrary: json(triggerLike) },
    { weight: 2, arbitrary: json(fc.jsonValue({ maxDepth: 4 })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.constantFrom("{", '{"target":', "[]", "null", '"hello"', "1", '{"target":"hello"}garbage', "\uFEFF{}", '{"a":'.repeat(5000), '{"__proto__":{"target":"hello"}}', '{"target":"hello","__proto__":{"ref":"x"}}', '{"constructor":{"prototype":{"x":1}},"target":"hello"}').map((s) => Buffer.from(s)) },
    // Past the 1 MB limit: 413, never a buffered crash.
    { weight: 1, arbitrary: fc.integer({ min: 1024 * 1024, max: 1024 * 1024 + 4096 }).map((n) => Buffer.from(`{"target":"${"x".repeat(n)}"}`)) },
  );
}

function headers(ctx: FuzzContext): fc.Arbitrary<Record<string, string | undefined>> {
  // Absent most of the time: each conditional header alone turns many answers into a 304 or 412.
  const header = (common: string[], absent = 4) => fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fc.constantFrom(...common) }, { weight: 1, arbitrary: printable });
  return fc.record({
    authorization: fc.oneof(
      { weight: 12, arbitrary: fc.constant(`Bearer ${ctx.token}`) },
      { weight: 1, arbitrary: fc.constantFrom(`bearer ${ctx.token}`, `Bearer   ${ctx.token}  `, `Bearer ${ctx.token}x`, "Bearer", "Bearer ", `Basic ${Buffer.from(`u:${ctx.token}`).toString("base64")}`, `Token ${ctx.token}`, ctx.token) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
    ),
    "content-type": fc.oneof({ weight: 3, arbitrary: fc.constant("application/json") }, { weight: 2, arbitrary: header(["application/json", "application/json; charset=utf-8", "application/json; charset=latin1", "application/json; charset=utf-16", "application/json; charset=nope", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/merge-patch+json", "application/json;;", "*/*", ""]) }),
    "content-encoding": fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: header(["identity", "gzip", "deflate", "br", "x-foo", "gzip, br", "GZIP", "zstd", ""]) }),
    range: header(["bytes=0-4", "bytes=2-", "bytes=-3", "bytes=100-200", "bytes=5-2", "bytes=0-0,2-3", "bytes=abc", "items=0-1", "bytes=-0", "bytes=0-99999999999999999999", "bytes=", `bytes=${"0-1,".repeat(200)}0-1`]),
    "if-range": header(['"x"', "Wed, 21 Oct 2015 07:28:00 GMT", "nonsense"], 30),
    "if-match": header(['"nope"', "*", "W/\"x\""], 30),
    "if-none-match": header(['"nope"', "*", "W/\"x\""], 30),
    "if-modified-since": header(["Wed, 21 Oct 2015 07:28:00 GMT", "nonsense", "Thu, 01 Jan 2099 00:00:00 GMT"], 30),
    accept: header(["*/*", "application/json", "text/event-stream", "text/html", "application/octet-stream", "image/*;q=0"]),
    "last-event-id": header(["0", "5", "-1", "99999999999999999999", "abc"], 30),
  });
}

/** One random request against the API. */
export function apiRequest(ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const params = { key: segment([ctx.key, "nope-nope"]), name: segment([ctx.target, "nope"]), file: segment([ctx.file, "builds.json"]), id: segment(["nope"]) };
  return fc
    .record({
      // Downloads weigh more: Range and the conditional headers only matter there.
      route: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ROUTES.filter(([, p]) => p.endsWith("{file}"))) }, { weight: ROUTES.length, arbitrary: fc.constantFrom(...ROUTES) }),
      method: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
      key: params.key,
      name: params.name,
      file: params.file,
      id: params.id,
      unknown: segment(["x"]),
      trailingSlash: fc.boolean(),
      headers: headers(ctx),
      body: body(ctx),
      chunked: fc.boolean(),
    })
    .chain((r) => query(r.route[1]).map((q) => ({ ...r, q })))
    .map((r) => {
      const fill = r.route[1].replace(/\{(\w+)\}/g, (_, p: string) => (p in r ? String(r[p as keyof typeof params]) : r.unknown));
      return {
        method: r.method ?? r.route[0],
        path: `/api/v1${fill}${r.trailingSlash ? "/" : ""}${r.q}`,
        headers: Object.fromEntries(Object.entries(r.headers).filter((e): e is [string, string] => e[1] !== undefined)),
        ...(r.body === undefined ? {} : { body: r.body }),
        chunked: r.chunked,
      };
    });
}


/** Sends one request; a streamed answer is read for at most `readMs` (the log of a build that runs). */
export function send(base: URL, r: FuzzRequest, readMs = 20_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...r.headers };
    // Node's client sends a GET or DELETE body unframed unless told: say which framing it has.
    if (r.body) headers[r.chunked ? "transfer-encoding" : "content-length"] = r.chunked ? "chunked" : String(r.body.length);
    // One connection per request (agent false): an answer sent before a body was read can close
    // the connection, and on a shared keep-alive socket that would be blamed on the next request.
    const req = request({ host: base.hostname, port: base.port, method: r.method, path: r.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      // An event stream (/events, a followed log as events) never ends by itself: its status and
      // first bytes are what is judged.
      const stream = (res.statusCode ?? 0) < 400 && /^text\/event-stream/.test(res.headers["content-type"] ?? "");
      const timer = setTimeout(() => res.destroy(), stream ? 200 : readMs);
      res.on("data", (c: Buffer) => {
        // Downloads and logs can be large: keep what is needed to judge an error answer.
        if (size < 64 * 1024) chunks.push(c);
        size += c.length;
      });
      const done = () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      };
      res.on("end", done);
      res.on("close", done);
      res.on("error", done);
    });
    req.on("error", reject);
    if (r.body) req.end(r.body);
    else req.end();
  });
}

/** What is wrong with an answer. `hidden` are the absolute paths no answer may show. */
export function judge(r: FuzzRequest, status: number, body: string, hidden: string[]): string[] {
  const problems: string[] = [];
  if (status >= 500) problems.push(`status ${status}`);
  if (status === 0) problems.push("no answer");
  if (status >= 400 && r.method !== "HEAD") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      problems.push("error answer is not JSON");
    }
    const p = parsed as { error?: unknown; code?: unknown } | undefined;
    if (parsed !== undefined && (typeof p?.error !== "string" || typeof p.code !== "string")) problems.push('error answer is not {"error","code"}');
    for (const dir of hidden) if (body.includes(dir)) problems.push(`answer shows the server path ${dir}`);
  }
  return problems;
}

/** A real server with one target, one published build and its artifact. */
export async function startFuzzServer(): Promise<{ server: TestServer; ctx: FuzzContext; hidden: string[] }> {
  const config = testConfig({ concurrency: 2, targets: [{ name: "hello", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }] });
  const server = await startTestServer(config, { executor: new FakeExecutor() });
  const work = mkdtempSync(path.join(tmpdir(), "cicd-fuzz-"));
  writeFileSync(path.join(work, "app.jar"), "fuzz artifact\n".repeat(100));
  const record = await server.manager.servicefs.publish("hello", { key: "fuzz-seed", commit: null, ref: "refs/heads/main", files: [path.join(work, "app.jar")] });
  const { build } = await server.manager.trigger({ target: "hello", trigger: "api" });
  await server.manager.waitFor(build.key, (b) => FINAL_STATUSES.includes(b.status), 30_000);
  const ctx = { target: "hello", key: build.key, file: record.artifacts[0]!, token: server.apiToken };
  return { server, ctx, hidden: [server.dir, config.servicefs, tmpdir() === "/" ? "" : work].filter(Boolean) };
}

/** Runs `runs` random requests, `concurrency` at a time, and counts what came back. */
export async function fuzzApi(options: { server: TestServer; ctx: FuzzContext; hidden: string[]; runs: number; seed?: number; concurrency?: number; onProgress?: (done: number) => void }): Promise<FuzzReport> {
  const started = Date.now();
  const base = new URL(options.server.url);
  const requests = fc.sample(apiRequest(options.ctx), { numRuns: options.runs, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  const report: FuzzReport = { cases: 0, byClass: {}, byStatus: {}, failures: [], serverErrors: [], ms: 0 };
  const logStart = options.server.logLines.length;
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const r = requests[next++]!;
      let status = 0;
      let body = "";
      try {
        ({ status, body } = await send(base, r));
      } catch (error) {
        body = String(error);
      }
      report.cases += 1;
      const cls = status === 0 ? "none" : `${Math.floor(status / 100)}xx`;
      report.byClass[cls] = (report.byClass[cls] ?? 0) + 1;
      report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
      const problems = judge(r, status, body, options.hidden);
      if (problems.length) report.failures.push({ request: { ...r, body: r.body && r.body.length > 300 ? Buffer.concat([r.body.subarray(0, 300), Buffer.from(`… (${r.body.length} bytes)`)]) : r.body }, status, body: body.slice(0, 500), problems });
      if (report.cases % 500 === 0) options.onProgress?.(report.cases);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  report.serverErrors = options.server.logLines.slice(logStart).filter((l) => l.includes("request failed"));
  report.ms = Date.now() - started;
  return report;
}

/** A request as a curl-like line, for a failure report. */
export function describeRequest(r: FuzzRequest): string {
  const h = Object.entries(r.headers).filter(([k]) => k !== "authorization").map(([k, v]) => `${k}: ${v}`).join("; ");
  const body = r.body ? ` body${r.chunked ? " (chunked)" : ""}=${JSON.stringify(r.body.toString("utf8").slice(0, 200))}` : "";
  return `${r.method} ${r.path.length > 300 ? `${r.path.slice(0, 300)}… (${r.path.length} chars)` : r.path}${h ? ` [${h}]` : ""}${body}`;
}
