import { afterEach, describe, expect, it } from "vitest";
import { dockerMessage, dockerStatus, ignoring, isRemovalInProgress } from "../../src/executor/docker/docker-errors.js";
import { DockerWorkload } from "../../src/executor/docker/docker-workload.js";
import { EngineError } from "../../src/executor/docker/engine-error.js";
import { isCicdError } from "../../src/shared/errors.js";
import { answer, type FakeEngine, startFakeEngine } from "./fake-engine.js";

describe("Docker error mapping", () => {
  let engine: FakeEngine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
  });

  it("turns an engine error answer into its status and its own words", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.startsWith("/v1.41/containers/gone/")) answer(res, 404, { message: "No such container: gone" });
      else if (req.url.startsWith("/v1.41/containers/plain/")) answer(res, 500, "engine on fire\n");
      else answer(res, 502);
    });
    const error: unknown = await engine.client.inspectContainer("gone").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(dockerStatus(error)).toBe(404);
    expect(dockerMessage(error)).toBe("No such container: gone");
    expect(await engine.client.inspectContainer("plain").catch(dockerMessage)).toBe("engine on fire");
    expect(await engine.client.inspectContainer("empty").catch(dockerMessage)).toBe("the Docker engine answered HTTP 502");
  });

  it("ignores only the statuses it is told to", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.includes("/stop")) answer(res, 304);
      else answer(res, 404, { message: "No such container: x" });
    });
    const client = engine.client;
    expect(await ignoring([404], () => client.removeContainer("x", { force: true }))).toBeUndefined();
    expect(await ignoring([304, 404], () => client.stopContainer("x", 1))).toBeUndefined();
    await expect(ignoring([304], () => client.removeContainer("x"))).rejects.toMatchObject({ statusCode: 404 });
    await expect(ignoring([404], () => Promise.reject(new Error("no status")))).rejects.toThrow("no status");
    expect(engine.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "DELETE /v1.41/containers/x?force=1",
      "POST /v1.41/containers/x/stop?t=1",
      "DELETE /v1.41/containers/x",
    ]);
  });

  it("tells a removal already in progress (409) from other conflicts", () => {
    const inProgress = new EngineError("removal of container abc is already in progress", 409, "DELETE /containers/abc");
    expect(isRemovalInProgress(inProgress)).toBe(true);
    expect(isRemovalInProgress(new EngineError("You cannot remove a running container abc", 409, "DELETE /containers/abc"))).toBe(false);
    expect(isRemovalInProgress(new Error("removal of container abc is already in progress"))).toBe(false);
  });

  it("destroy rides along a removal in progress and returns only once the container is gone", async () => {
    let inspections = 0;
    engine = await startFakeEngine((req, res) => {
      if (req.method === "DELETE") answer(res, 409, { message: "removal of container c1 is already in progress" });
      else if (++inspections < 3) answer(res, 200, { Id: "c1", State: { Status: "removing" } });
      else answer(res, 404, { message: "No such container: c1" });
    });
    await new DockerWorkload(engine.client, "w1", "c1", "127.0.0.1", false).destroy();
    expect(inspections).toBe(3);
  });

  it("destroy reports any other refusal in the engine's words", async () => {
    engine = await startFakeEngine((_req, res) => answer(res, 409, { message: "container c1 is paused, unpause it first" }));
    const error: unknown = await new DockerWorkload(engine.client, "w1", "c1", "127.0.0.1", false).destroy().catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toBe("Removing workload w1 failed: container c1 is paused, unpause it first");
  });

  it("ends the output of a container removed before it was read, and reports other failures", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.startsWith("/v1.41/containers/dying/")) answer(res, 409, { message: "can not get logs from container which is dead or marked for removal" });
      else answer(res, 500, { message: "driver failed" });
    });
    const chunks: string[] = [];
    await new DockerWorkload(engine.client, "w1", "dying", "127.0.0.1", false).output((c) => chunks.push(c));
    expect(chunks).toEqual([]);
    const error: unknown = await new DockerWorkload(engine.client, "w2", "broken", "127.0.0.1", false).output(() => undefined).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toBe("Cannot read the output of workload w2: driver failed");
  });

  it("surfaces a build step's error from the progress stream, after passing on every event", async () => {
    engine = await startFakeEngine((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write('{"stream":"Step 1/2 : FROM node:20-bookworm-slim\\n"}\r\n{"stream":"Step 2/2 : RUN ex');
      res.write('it 7\\n"}\r\n{"errorDetail":{"code":7,"message":"The command \'/bin/sh -c exit 7\' returned a non-zero code: 7"},');
      res.end('"error":"The command \'/bin/sh -c exit 7\' returned a non-zero code: 7"}\r\n');
    });
    const seen: string[] = [];
    const context = Buffer.from("not really a tar");
    const error: unknown = await engine.client
      .buildImage(context, { t: "x:1", dockerfile: "docker/x.Dockerfile", labels: { "cicd.bundle": "abc" }, rm: true, forcerm: true }, (e) =>
        seen.push(e.stream ?? e.error ?? ""),
      )
      .catch((e: unknown) => e);
    expect(dockerMessage(error)).toBe("The command '/bin/sh -c exit 7' returned a non-zero code: 7");
    expect(seen).toHaveLength(3);
    expect(seen[1]).toBe("Step 2/2 : RUN exit 7\n");
    const [request] = engine.requests;
    const query = new URL(request!.url, "http://x").searchParams;
    expect(Object.fromEntries(query)).toEqual({ t: "x:1", dockerfile: "docker/x.Dockerfile", labels: '{"cicd.bundle":"abc"}', rm: "1", forcerm: "1" });
    expect(request!.headers["content-type"]).toBe("application/x-tar");
    expect(request!.body).toEqual(context);
  });
});
