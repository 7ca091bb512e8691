import { createHmac } from "node:crypto";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import express from "express";
import fc from "fast-check";
import { mountGitHub } from "../../src/webhooks/mount-github.js";
import type { Build, BuildEvent, BuildFilter, BuildService, TriggerRequest } from "../../src/manager/types.js";
import { errors } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { newBuildFor, newBuildOf } from "../../src/store/build-row.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { WEBHOOK_SECRET, testConfig, testEnv } from "../fixtures/github-app-fixture.js";
import type { Payload } from "../fixtures/webhook-payloads.js";

/**
 * Webhook fuzzing shared by test/fuzz/webhooks.fuzz.test.ts (about 1,000 cases) and
 * scripts/fuzz-webhooks.ts (10,000, printing the counts). Every case is a validly signed
 * delivery sent over real HTTP to the webhook endpoint of a server started in-process
 * (mountGitHub as the server mounts it, the real handlers, Probot for the events it takes, a
 * recording build service, GitHub replaced by the fake API on 127.0.0.1). The payload is one of
 * GitHub's own examples (`@octokit/webhooks-examples`, every event) mutated: fields dropped,
 * values replaced by random JSON or by values of another type, `__proto__` keys, `/build`
 * comments, the whole payload replaced; the event name is sometimes another one, random, or a
 * name of Object.prototype. The verdict per answer: an answer came, below 500, and an error
 * answer is JSON `{"error"}` without internal error text. Every build request that reached the
 * build service must be storable (the types SQLite is given).
 */

export interface FuzzCase {
  name: string;
  body: string;
}

export interface FuzzOutcome {
  delivery: FuzzCase;
  status: number;
  body: string;
  problems: string[];
}

export interface FuzzReport {
  cases: number;
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
  /** Deliveries that got no HTTP answer (the connection failed or the server fell over). */
  crashes: number;
  failures: FuzzOutcome[];
  /** Build requests that reached the build service with fields SQLite could not store. */
  badRequests: string[];
  /** Server log lines of failed webhooks (a 500's details). */
  serverErrors: string[];
  ms: number;
}

const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Payload[] }[];
const examples = definitions.flatMap((d) => d.examples.map((payload) => ({ name: d.name, payload })));
const eventNames = definitions.map((d) => d.name);
// Where handlers go deeper: the events cicd acts on, with repositories that have targets.
const acted = examples.filter((e) => ["push", "pull_request", "issue_comment", "check_run", "check_suite"].includes(e.name));

type Mutation =
  | { kind: "drop"; at: number }
  | { kind: "set"; at: number; value: unknown }
  | { kind: "retype"; at: number; pick: number }
  | { kind: "proto"; at: number }
  | { kind: "comment"; body: string }
  | { kind: "installation"; value: unknown };

const oddValues: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, "", "__proto__", "constructor", "a/b/c", "../../etc/passwd", [], {}, [null], { id: "1" }, "0".repeat(40), "x".repeat(5000)];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("retype" as const), at: fc.nat(), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("proto" as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("comment" as const),
      body: fc.oneof(fc.constantFrom("/build", "/build hello", "/build nope", "/build hello hello-release", "```\n/build\n```", "/build\r\n/build x"), fc.string()),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("installation" as const), value: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 1 }), fc.constant({ id: 1 })) }) },
);

/** A validly signed delivery: an example of some event, mutated, under its own or another name. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc
  .record({
    example: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...acted) }, { weight: 1, arbitrary: fc.constantFrom(...examples) }),
    mutations: fc.array(mutation, { maxLength: 4 }),
    rename: fc.oneof(
      { weight: 12, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(...eventNames, "__proto__", "constructor", "hasOwnProperty", "prototype") },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /^[\x21-\x7e]+$/.test(s)) },
    ),
    whole: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
  })
  .map(({ example, mutations, rename, whole }) => {
    let payload: unknown = structuredClone(example.payload);
    (payload as Payload).installation ??= { id: 1 };
    let proto = false;
    for (const m of mutations) [payload, proto] = [apply(payload, m), proto || m.kind === "proto"];
    let body = JSON.stringify(whole !== undefined ? whole : payload) ?? "null";
    // JSON.stringify never writes a "__proto__" key of its own; GitHub's bytes could hold one.
    if (proto && body.startsWith("{")) body = `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},${body.slice(1)}`.replace(/,}$/, "}");
    return { name: rename ?? example.name, body };
  });

/** Every path to a value in `payload` (objects and arrays, a few levels deep). */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  if (depth > 5 || typeof value !== "object" || value === null) return out;
  for (const [key, child] of Object.entries(value)) {
    const at = [...prefix, Array.isArray(value) ? Number(key) : key];
    out.push(at);
    paths(child, at, out, depth + 1);
  }
  return out;
}

function apply(payload: unknown, m: Mutation): unknown {
  const p = payload as Payload;
  if (m.kind === "comment") {
    if (p && typeof p === "object" && p.comment && typeof p.comment === "object") p.comment.body = m.body;
    return payload;
  }
  if (m.kind === "installation") {
    if (p && typeof p === "object" && !Array.isArray(p)) p.installation = m.value;
    return payload;
  }
  const all = paths(payload);
  if (!all.length) return payload;
  const at = all[m.at % all.length]!;
  const parent = at.slice(0, -1).reduce((o: Payload, k) => o[k], payload);
  const key = at[at.length - 1]!;
  if (m.kind === "drop") {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else if (m.kind === "set") {
    parent[key] = m.value;
  } else if (m.kind === "retype") {
    parent[key] = oddValues[m.pick % oddValues.length];
  } else if (typeof parent[key] === "object" && parent[key] !== null && !Array.isArray(parent[key])) {
    // "proto": a nested object gets the key too (the text is patched for the top level).
    Object.defineProperty(parent[key], "__proto__", { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
  }
  return payload;
}

/**
 * The build service behind the fuzzed endpoint: it keeps every build request in memory (no
 * build ever runs, so GitHub sees only "queued" check runs) and refuses, as SQLite would, a
 * request with fields of the wrong type. (test/fixtures/fake-build-service.ts registers vitest
 * hooks, which scripts/fuzz-webhooks.ts cannot load.)
 */
export class RecordingBuildService implements BuildService {
  readonly requests: TriggerRequest[] = [];
  private readonly builds = new Map<string, Build>();
  private readonly listeners = new Set<(event: BuildEvent) => void>();
  private readonly seen = new Map<string, string>();

  async trigger(request: TriggerRequest): Promise<{ build: Build; duplicate: boolean }> {
    this.requests.push(request);
    const why = unstorable(request);
    if (why) throw new TypeError(`SQLite cannot store ${why}`);
    const dedupe = `${request.deliveryId}|${request.target}|${request.sha ?? request.ref ?? ""}`;
    const known = this.seen.get(dedupe);
    if (known) return { build: this.builds.get(known)!, duplicate: true };
    const key = `fz${String(this.builds.size + 1).padStart(8, "0")}`;
    const build = newBuildOf(
      newBuildFor(request, { key, logPath: this.logPath(key), createdAt: new Date().toISOString() }),
      JSON.stringify(request.meta ?? {}),
    );
    this.builds.set(key, build);
    this.seen.set(dedupe, key);
    for (const listener of this.listeners) listener({ build, previous: null });
    return { build, duplicate: false };
  }

  get(key: string): Build | undefined {
    return this.builds.get(key);
  }

  list(filter: BuildFilter = {}): Build[] {
    return [...this.builds.values()].filter((b) => (!filter.target || b.target === filter.target) && (!filter.status || b.status === filter.status)).slice(-(filter.limit ?? 100));
  }

  async cancel(key: string): Promise<Build> {
    throw errors.conflict(`Build ${key} cannot be cancelled here.`);
  }

  setMeta(key: string, patch: Record<string, unknown>): void {
    const b = this.builds.get(key);
    if (b) b.meta = { ...b.meta, ...patch };
  }

  markReported(): void {}

  unreported(): Build[] {
    return [];
  }

  logPath(key: string): string {
    return path.join(tmpdir(), "cicd-webhook-fuzz", `${key}.log`);
  }

  onChange(listener: (event: BuildEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onLog(): () => void {
    return () => undefined;
  }
}

/**
 * The webhook endpoint the cases go to: mountGitHub in an express app on 127.0.0.1, as the
 * server mounts it (the same handlers, Probot loaded on first use), the fake GitHub API behind it.
 */
export async function startFuzzServer() {
  const api = await startFakeGitHubApi();
  const service = new RecordingBuildService();
  const logger = memoryLogger();
  const app = express();
  const env = { ...testEnv, GHE_HOST: api.host, GHE_PROTOCOL: "http" };
  const github = (await mountGitHub(app, { service, config: testConfig(), logger, env, tuning: { throttle: false, retry: { baseMs: 5, maxMs: 20 } } }))!;
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    service,
    logLines: logger.lines,
    api,
    async close() {
      await github.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
    },
  };
}

const internal = /TypeError|ReferenceError|RangeError|SyntaxError|Cannot read|is not a function|undefined is not|\n\s+at |node_modules|\/work\/|\/tmp\/|\.[jt]s:\d/;

/** Sends one delivery, validly signed, and judges the answer. */
export async function sendCase(url: string, delivery: FuzzCase, id: string): Promise<FuzzOutcome> {
  const signature = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(delivery.body).digest("hex")}`;
  const problems: string[] = [];
  let status = 0;
  let body = "";
  try {
    const res = await fetch(`${url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": delivery.name, "x-github-delivery": id, "x-hub-signature-256": signature },
      body: delivery.body,
    });
    status = res.status;
    body = await res.text();
  } catch (error) {
    problems.push(`no answer: ${(error as Error).message}`);
    return { delivery, status, body, problems };
  }
  if (status >= 500) problems.push(`status ${status}`);
  if (status >= 400) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      problems.push("error answer is not JSON");
    }
    const error = (parsed as { error?: unknown } | undefined)?.error;
    if (typeof error !== "string") problems.push('error answer has no "error"');
    else if (internal.test(error)) problems.push("error answer carries internal error text");
  }
  return { delivery, status, body, problems };
}

/** Why `request` could not be stored as a build (the column types the store gives SQLite), or undefined. */
export function unstorable(request: TriggerRequest): string | undefined {
  const optional = (v: unknown, ok: (v: unknown) => boolean) => v === undefined || v === null || ok(v);
  const text = (v: unknown) => typeof v === "string";
  const int = (v: unknown) => Number.isSafeInteger(v);
  const checks: [keyof TriggerRequest, boolean][] = [
    ["target", text(request.target)],
    ["ref", optional(request.ref, text)],
    ["sha", optional(request.sha, text)],
    ["deliveryId", optional(request.deliveryId, text)],
    ["repository", optional(request.repository, text)],
    ["installationId", optional(request.installationId, int)],
    ["pullRequest", optional(request.pullRequest, int)],
    ["untrusted", optional(request.untrusted, (v) => typeof v === "boolean")],
  ];
  const bad = checks.filter(([, ok]) => !ok).map(([field]) => `${field}=${JSON.stringify(request[field])}`);
  return bad.length ? bad.join(" ") : undefined;
}

/** Runs `runs` cases from `seed` against a running fuzz server, `concurrency` at a time, and counts what came back. */
export async function fuzzWebhooks(o: {
  url: string;
  service: { requests: TriggerRequest[] };
  logLines: string[];
  runs: number;
  seed: number;
  concurrency?: number;
  onProgress?: (done: number) => void;
}): Promise<FuzzReport> {
  const started = Date.now();
  const report: FuzzReport = { cases: 0, byClass: {}, byStatus: {}, crashes: 0, failures: [], badRequests: [], serverErrors: [], ms: 0 };
  const cases = fc.sample(fuzzCase, { numRuns: o.runs, seed: o.seed });
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const outcome = await sendCase(o.url, cases[i]!, `fuzz-${o.seed}-${i}`);
      report.cases++;
      const klass = outcome.status ? `${Math.floor(outcome.status / 100)}xx` : "none";
      report.byClass[klass] = (report.byClass[klass] ?? 0) + 1;
      report.byStatus[outcome.status] = (report.byStatus[outcome.status] ?? 0) + 1;
      if (!outcome.status) report.crashes++;
      if (outcome.problems.length) report.failures.push(outcome);
      if (report.cases % 100 === 0) o.onProgress?.(report.cases);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 1 }, worker));
  for (const request of o.service.requests) {
    const why = unstorable(request);
    if (why) report.badRequests.push(`${request.trigger} ${request.deliveryId}: ${why}`);
  }
  report.serverErrors = o.logLines.filter((l) => /Webhook failed|Could not answer/.test(l));
  if ((Object.prototype as Record<string, unknown>).polluted !== undefined) report.failures.push({ delivery: { name: "-", body: "-" }, status: 0, body: "", problems: ["Object.prototype was polluted"] });
  report.ms = Date.now() - started;
  return report;
}

/** A short line for a failed case: its event, what went wrong, the answer and the start of the body. */
export function describeFailure(f: FuzzOutcome): string {
  return `${f.problems.join(", ")}: ${f.delivery.name} ${f.delivery.body.slice(0, 300)} → ${f.status} ${f.body.slice(0, 200)}`;
}
