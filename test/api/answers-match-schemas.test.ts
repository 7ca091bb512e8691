import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerSchema, operations } from "../../src/api/openapi.js";
import { CicdClient } from "../../src/client/index.js";
import { RunnerStateWriter, type RunnerState } from "../../src/runner/runner-state.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/**
 * Every JSON answer of a real server (real HTTP, real SQLite, builders of the fake executor
 * speaking the real protocol) goes through the schema openapi.json names for its route and
 * status, and comes out the same: no field the schema does not know (they are strict), none
 * missing, none of another type. The schemas are the ones the client's types come from.
 */
describe("every JSON answer of the API matches its schema", () => {
  let server: TestServer;
  let client: CicdClient;
  const executor = new FakeExecutor();
  const seen = new Set<string>();

  /** Calls `path` (documented as `route`), checks the answer against its schema, returns it. */
  async function call(method: string, route: string, path: string, init: { json?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: unknown }> {
    const response = await server.api(`/api/v1${path}`, { method, ...init });
    const text = await response.text();
    const documented = operations[route]?.[method.toLowerCase()]?.responses;
    expect(Object.keys(documented ?? {}), `${method} ${route} documents ${response.status}`).toContain(String(response.status));
    if (!response.headers.get("content-type")?.startsWith("application/json")) return { status: response.status, body: text };
    const schema = answerSchema(method, route, response.status);
    expect(schema, `${method} ${route} ${response.status} names a schema`).toBeDefined();
    const body: unknown = JSON.parse(text);
    const parsed = schema!.safeParse(body);
    expect(parsed.error?.issues ?? [], `${method} ${path} → ${response.status}: ${text.slice(0, 500)}`).toEqual([]);
    expect(parsed.data).toEqual(body);
    seen.add(`${method} ${route} ${response.status}`);
    return { status: response.status, body };
  }

  beforeAll(async () => {
    server = await startTestServer(
      testConfig({
        targets: [
          { name: "hello", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"], run: { command: "sh {file}", ports: ["8080:8080"], probation: "5s" } },
          { name: "broken", url: "files:///nowhere", commands: ["echo about to fail", "exit 3"], artifacts: ["artifact.txt"] },
          { name: "slow", url: "files:///nowhere", commands: ["sleep 60000"], artifacts: ["artifact.txt"] },
        ],
      }),
      { executor },
    );
    client = new CicdClient({ baseUrl: server.url, token: server.apiToken });
  });
  afterAll(() => server.close(0));

  it("for builds, targets and artifacts", async () => {
    const queued = (await call("POST", "/builds", "/builds", { json: { target: "hello", ref: "main" } })).body as { key: string };
    const good = await client.waitForBuild(queued.key, { intervalMs: 50, timeoutMs: 20_000 });
    expect(good.status).toBe("succeeded");
    const failed = await client.waitForBuild((await client.triggerBuild("broken")).key, { intervalMs: 50, timeoutMs: 20_000 });
    expect(failed.outcome).toBe("command_failed");
    const slow = await client.triggerBuild("slow");

    await call("GET", "/builds/{key}", `/builds/${good.key}`);
    await call("GET", "/builds/{key}", `/builds/${failed.key}`);
    await call("GET", "/builds", "/builds");
    await call("GET", "/builds", "/builds?status=failed&limit=5");
    await call("GET", "/builds/{key}/artifacts", `/builds/${good.key}/artifacts`);
    await call("GET", "/builds/{key}/artifacts", `/builds/${failed.key}/artifacts`);
    await call("GET", "/targets", "/targets");
    await call("GET", "/targets/{name}/artifacts", "/targets/hello/artifacts");
    await call("GET", "/targets/{name}/artifacts", "/targets/slow/artifacts");
    const file = (await client.getBuildArtifacts(good.key))[0]!.name;
    await call("GET", "/targets/{name}/artifacts/{file}", `/targets/hello/artifacts/${file}`, { headers: { range: "bytes=999-" } });
    await call("GET", "/builds/{key}/artifacts/{file}", `/builds/${good.key}/artifacts/nope.txt`);
    await call("POST", "/builds/{key}/cancel", `/builds/${slow.key}/cancel`);
    await call("POST", "/builds/{key}/cancel", `/builds/${good.key}/cancel`);
    await call("GET", "/builds/{key}", "/builds/no-such-build");
    await call("GET", "/builds/{key}/log", "/builds/no-such-build/log");
    await call("POST", "/builds", "/builds", { json: { target: "hello", sha: "not a sha" } });
    await call("POST", "/builds", "/builds", { json: { target: "nowhere" } });
    await call("GET", "/builds", "/builds?limit=0");
    await call("GET", "/targets", "/targets", { headers: { authorization: "Bearer wrong" } });
    const unsupported = await server.api("/api/v1/builds", { method: "POST", body: "target=hello", headers: { "content-type": "text/plain" } });
    expect(unsupported.status).toBe(415);

    expect([...seen].sort()).toEqual(expect.arrayContaining(["GET /builds/{key} 200", "GET /builds/{key} 404", "POST /builds 202", "POST /builds 400", "POST /builds/{key}/cancel 200", "POST /builds/{key}/cancel 409", "GET /targets/{name}/artifacts/{file} 416"]));
  });

  it("for runners", async () => {
    const build = await client.waitForBuild((await client.triggerBuild("hello")).key, { intervalMs: 50, timeoutMs: 20_000 });
    const created = (await call("POST", "/targets/{name}/runners", "/targets/hello/runners")).body as { id: string };
    // The fake executor runs no `cicd runner`: write the state file a runner would, with the
    // runner's own type, so the view carries a last exit and decisions.
    const spec = executor.started.find((s) => s.id === created.id)!;
    const stateFile = spec.args[spec.args.indexOf("--state-file") + 1]!;
    mkdirSync(path.dirname(stateFile), { recursive: true });
    const at = new Date().toISOString();
    const state: RunnerState = {
      pid: 4242, dir: "/srv/hello", pin: null, phase: "running", startedAt: at, updatedAt: at,
      current: { key: build.key, artifact: "artifact.txt", file: "/srv/hello/artifact.txt", pid: 4243, startedAt: at, restarts: 1 },
      lastExit: { key: "older", exitCode: 3, signal: null, at, runtimeMs: 120 },
      tried: ["older"],
      decisions: [{ at, kind: "mark-bad", message: "older exited with 3", build: "older" }, { at, kind: "start", message: "starting" }],
      exitCode: null, error: null,
    };
    const writer = new RunnerStateWriter(stateFile);
    writer.write(state);
    await writer.flush();

    const view = (await call("GET", "/runners/{id}", `/runners/${created.id}`)).body as { build: string; decisions: unknown[] };
    expect(view.build).toBe(build.key);
    expect(view.decisions).toHaveLength(2);
    await call("GET", "/runners", "/runners");
    await call("GET", "/runners", "/runners?target=hello");
    const deployed = (await call("POST", "/targets/{name}/runners", "/targets/hello/runners", { json: { build: build.key } })).body as { id: string; replaced: string[] };
    expect(deployed.replaced).toEqual([created.id]);
    await call("POST", "/targets/{name}/runners", "/targets/broken/runners");
    await call("POST", "/targets/{name}/runners", "/targets/hello/runners", { json: { build: "no-such-build" } });
    await call("POST", "/targets/{name}/runners", "/targets/hello/runners", { json: { bild: "typo" } });
    await call("DELETE", "/runners/{id}", `/runners/${deployed.id}`);
    await call("DELETE", "/runners/{id}", "/runners/no-such-runner");
    await call("GET", "/runners/{id}", "/runners/no-such-runner");
  });
});
