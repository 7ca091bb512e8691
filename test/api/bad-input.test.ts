import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/**
 * Bad input found by an attacker's test that earned a 5xx (or the wrong 4xx): each gets the
 * 4xx it deserves, with a JSON `{"error", "code"}` body that says what to send instead.
 */
let server: TestServer;
let root: string;

beforeAll(async () => {
  const targets = ["hello", "folder", "loop", "corrupt"].map((name) => ({ name, url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }));
  server = await startTestServer(testConfig({ targets }), { executor: new FakeExecutor() });
  root = server.manager.servicefs.root;
  mkdirSync(path.join(root, "hello"), { recursive: true });
  writeFileSync(path.join(root, "hello", "app-20261126T220501123Z.txt"), "hello world");
  writeFileSync(path.join(root, "hello", "builds.json"), JSON.stringify({ target: "hello", builds: [{ key: "k1", status: "good", createdAt: "2026-11-26T22:05:01.123Z", commit: null, ref: null, artifacts: ["app-20261126T220501123Z.txt"] }] }));
  mkdirSync(path.join(root, "folder", "builds.json"), { recursive: true });
  mkdirSync(path.join(root, "loop"), { recursive: true });
  // A symlink to itself: unreadable even for root (tests may run as root, where chmod 000 is no bar).
  const { symlinkSync } = await import("node:fs");
  symlinkSync("builds.json", path.join(root, "loop", "builds.json"));
  mkdirSync(path.join(root, "corrupt"), { recursive: true });
  writeFileSync(path.join(root, "corrupt", "builds.json"), '{"target": "corrupt", "builds": [');
});
afterAll(() => server.close(0));

async function expectJsonError(response: Response, status: number): Promise<string> {
  const body = (await response.json()) as { error: string; code: string };
  expect({ status: response.status, body }).toEqual({ status, body: { error: expect.any(String), code: expect.any(String) } });
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return body.error;
}

describe("bad %-escapes in path parameters", () => {
  const paths = [
    ["GET", "/api/v1/builds/%E0%A4%A"],
    ["GET", "/api/v1/builds/%zz/log"],
    ["POST", "/api/v1/builds/%/cancel"],
    ["GET", "/api/v1/targets/%/artifacts"],
    ["GET", "/api/v1/targets/hello/artifacts/%C0"],
    ["GET", "/api/v1/targets/%ff%fe/artifacts/x"],
    ["POST", "/api/v1/targets/%E2%82/runners"],
    ["GET", "/api/v1/runners/%"],
    ["DELETE", "/api/v1/runners/%u0041"],
  ] as const;
  it.each(paths)("%s %s is a 400 that says how to encode", async (method, pathname) => {
    const error = await expectJsonError(await server.api(pathname, { method }), 400);
    expect(error).toMatch(/percent-encoded UTF-8/);
  });

  it("is still 401 without the token (auth comes first)", async () => {
    await expectJsonError(await fetch(`${server.url}/api/v1/builds/%E0%A4%A`), 401);
  });
});

describe("request bodies the API does not take", () => {
  it.each(["br", "x-foo", "gzip", "deflate, gzip"])("Content-Encoding %s is a 415", async (encoding) => {
    const response = await server.api("/api/v1/builds", { method: "POST", headers: { "content-type": "application/json", "content-encoding": encoding }, body: '{"target":"hello"}' });
    expect(await expectJsonError(response, 415)).toMatch(/Content-Encoding.*uncompressed/);
  });

  it("Content-Encoding identity is a plain body", async () => {
    const response = await server.api("/api/v1/builds", { method: "POST", headers: { "content-type": "application/json", "content-encoding": "identity" }, body: '{"target":"nope"}' });
    expect(await expectJsonError(response, 404)).toMatch(/target/);
  });

  it.each([
    ["text/plain", "/api/v1/builds"],
    ["application/x-www-form-urlencoded", "/api/v1/builds"],
    ["multipart/form-data; boundary=x", "/api/v1/builds"],
    [undefined, "/api/v1/builds"],
    ["text/plain", "/api/v1/targets/hello/runners"],
  ])("a JSON body sent as %s to %s is a 415 that says to send application/json", async (type, pathname) => {
    const body = new TextEncoder().encode('{"target":"hello"}'); // bytes: fetch adds no Content-Type of its own
    const response = await server.api(pathname, { method: "POST", headers: type ? { "content-type": type } : {}, body });
    expect(await expectJsonError(response, 415)).toContain("Content-Type: application/json");
  });

  it("a POST without a body needs no Content-Type", async () => {
    expect((await server.api("/api/v1/builds/nope/cancel", { method: "POST" })).status).toBe(404);
    expect((await server.api("/api/v1/targets/hello/runners", { method: "POST" })).status).toBe(422);
  });

  it("an unknown charset is a 415", async () => {
    const response = await server.api("/api/v1/builds", { method: "POST", headers: { "content-type": "application/json; charset=latin-9000" }, body: '{"target":"hello"}' });
    await expectJsonError(response, 415);
  });
});

describe("artifact downloads", () => {
  const file = "/api/v1/targets/hello/artifacts/app-20261126T220501123Z.txt";
  it.each(["bytes=100-200", "bytes=11-", "bytes=50-60, 70-80"])("an unsatisfiable Range %s is a 416 with Content-Range bytes */SIZE", async (range) => {
    const response = await server.api(file, { headers: { range } });
    expect(response.headers.get("content-range")).toBe("bytes */11");
    expect(response.headers.get("content-disposition")).toBeNull();
    expect(await expectJsonError(response, 416)).toMatch(/11 bytes/);
  });

  it("a satisfiable Range is still a 206", async () => {
    const response = await server.api(file, { headers: { range: "bytes=2-4" } });
    expect(response.status).toBe(206);
    expect(await response.text()).toBe("llo");
  });

  it("a failed If-Match is a 412, not a 500", async () => {
    await expectJsonError(await server.api(file, { headers: { "if-match": '"nope"' } }), 412);
  });
});

describe("a target's builds.json that cannot be read", () => {
  it.each([
    ["folder", /it is a folder/],
    ["loop", /symbolic link that loops/],
    ["corrupt", /not JSON/],
  ])("%s: a clear error in the target's terms, no errno text, no absolute path", async (target, why) => {
    const error = await expectJsonError(await server.api(`/api/v1/targets/${target}/artifacts`), 500);
    expect(error).toMatch(why);
    expect(error).toContain(`${target}/builds.json`);
    expect(error).not.toMatch(/EISDIR|ELOOP|illegal operation/);
    expect(error).not.toContain(root);
    expect(error).not.toContain(server.dir);
  });
});
