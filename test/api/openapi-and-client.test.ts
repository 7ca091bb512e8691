import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Router } from "express";
import { CicdApiError, CicdClient } from "../../src/client/index.js";
import { buildArtifactsRoutes } from "../../src/api/build-artifacts-routes.js";
import { eventsRoutes } from "../../src/api/events-routes.js";
import { operations } from "../../src/api/openapi.js";
import { buildsRoutes } from "../../src/api/builds-routes.js";
import { artifactsRoutes } from "../../src/api/artifacts-routes.js";
import { runnersRoutes } from "../../src/api/runners-routes.js";
import { markBadRoutes } from "../../src/api/mark-bad-routes.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/** Every `METHOD /path` an express router serves, with `:param` written as `{param}`. */
function routesOf(router: Router): string[] {
  const stack = (router as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack;
  return stack.flatMap((layer) =>
    layer.route ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, "{$1}")}`) : [],
  );
}

describe("OpenAPI document", () => {
  it("describes exactly the routes the API serves", () => {
    const fake = {} as never;
    const served = [buildsRoutes(fake), eventsRoutes(fake), artifactsRoutes({ targets: [] } as never, fake), runnersRoutes(fake), buildArtifactsRoutes(fake), markBadRoutes({ targets: [] } as never, fake)].flatMap(routesOf).sort();
    const documented = Object.entries(operations).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    expect(documented).toEqual(served);
  });
});

describe("CicdClient against a real server", () => {
  let server: TestServer;
  let client: CicdClient;
  beforeAll(async () => {
    server = await startTestServer(testConfig({ targets: [{ name: "hello", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }] }), { executor: new FakeExecutor() });
    client = new CicdClient({ baseUrl: server.url, token: server.apiToken });
  });
  afterAll(() => server.close(0));

  it("triggers, waits, lists, reads the log and downloads the artifact (whole and by range)", async () => {
    const queued = await client.triggerBuild("hello");
    expect(queued.status).toBe("queued");
    const done = await client.waitForBuild(queued.key, { intervalMs: 50, timeoutMs: 10_000 });
    expect(done.status).toBe("succeeded");
    expect((await client.listBuilds({ target: "hello" })).map((b) => b.key)).toContain(queued.key);
    expect(await client.getLog(queued.key)).toContain("hi");
    const doc = await client.getArtifacts("hello");
    const file = doc.builds.at(-1)!.artifacts[0]!;
    expect((await client.getBuildArtifacts(queued.key)).map((a) => a.name)).toEqual([file]);
    expect(new TextDecoder().decode(await client.downloadBuildArtifact(queued.key, file))).toBe(`built ${queued.key}\n`);
    const whole = Buffer.from(await client.downloadArtifact("hello", file)).toString();
    expect(whole).toBe(`built ${queued.key}\n`);
    expect(Buffer.from(await client.downloadArtifact("hello", file, { start: 0, end: 4 })).toString()).toBe("built");
    expect((await client.listTargets()).map((t) => t.name)).toEqual(["hello"]);
    const served = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, object>; components: { schemas: Record<string, unknown> } };
    expect(served.openapi).toBe("3.1.0");
    expect(Object.keys(served.paths).sort()).toEqual(Object.keys(operations).sort());
    // Rendered from the zod schemas: one BuildStatus, referenced wherever a status appears.
    expect(served.components.schemas.BuildStatus).toEqual({ type: "string", enum: ["queued", "running", "succeeded", "failed", "cancelled", "error"] });
    expect(JSON.stringify(served.paths)).not.toContain('"succeeded"');
  });

  it("answers with typed errors", async () => {
    await expect(client.getBuild("nope-nope")).rejects.toMatchObject({ name: "CicdApiError", status: 404, code: "NOT_FOUND" });
    await expect(client.triggerBuild("missing")).rejects.toBeInstanceOf(CicdApiError);
    await expect(new CicdClient({ baseUrl: server.url, token: "wrong" }).listBuilds()).rejects.toMatchObject({ status: 401 });
    await expect(client.createRunner("hello")).rejects.toMatchObject({ status: 422 });
    await expect(client.getRunner("nope")).rejects.toMatchObject({ status: 404 });
  });
});
