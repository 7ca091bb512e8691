import { afterEach, describe, expect, it } from "vitest";
import { dockerMessage, dockerStatus, ignoring, isRemovalInProgress } from "../../src/executor/docker/docker-errors.js";
import { DockerWorkload } from "../../src/executor/docker/docker-workload.js";
import { checkEngine, connectEngine } from "../../src/executor/docker/engine.js";
import { ImagePreparer } from "../../src/executor/docker/image-preparer.js";
import { isCicdError } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { answer, type FakeEngine, startFakeEngine } from "./fake-engine.js";

/** Answers the real engine gives only in races or on failure, from a stand-in on a real socket. */
describe("Docker error mapping", () => {
  let engine: FakeEngine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
  });

  it("turns an engine error answer into its status and its own words", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.startsWith("/containers/gone/")) answer(res, 404, { message: "No such container: gone" });
      else answer(res, 500, "engine on fire\n");
    });
    const error: unknown = await engine.docker.getContainer("gone").inspect().catch((e: unknown) => e);
    expect(dockerStatus(error)).toBe(404);
    expect(dockerMessage(error)).toBe("No such container: gone");
    expect(await engine.docker.getContainer("plain").inspect().catch(dockerMessage)).toBe("engine on fire");
  });

  it("ignores only the statuses it is told to", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.includes("/stop")) answer(res, 304);
      else answer(res, 404, { message: "No such container: x" });
    });
    const container = engine.docker.getContainer("x");
    expect(await ignoring([404], () => container.remove({ force: true }))).toBeUndefined();
    expect(await ignoring([304, 404], () => container.stop({ t: 1 }))).toBeUndefined();
    await expect(ignoring([304], () => container.remove())).rejects.toMatchObject({ statusCode: 404 });
    await expect(ignoring([404], () => Promise.reject(new Error("no status")))).rejects.toThrow("no status");
  });

  it("tells a removal already in progress (409) from other conflicts", () => {
    const answerOf = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) conflict - ${message}`), { statusCode, json: { message } });
    expect(isRemovalInProgress(answerOf(409, "removal of container abc is already in progress"))).toBe(true);
    expect(isRemovalInProgress(answerOf(409, "You cannot remove a running container abc"))).toBe(false);
    expect(isRemovalInProgress(new Error("removal of container abc is already in progress"))).toBe(false);
  });

  it("destroy rides along a removal in progress and returns only once the container is gone", async () => {
    let inspections = 0;
    engine = await startFakeEngine((req, res) => {
      if (req.method === "DELETE") answer(res, 409, { message: "removal of container c1 is already in progress" });
      else if (++inspections < 3) answer(res, 200, { Id: "c1", State: { Status: "removing" } });
      else answer(res, 404, { message: "No such container: c1" });
    });
    await new DockerWorkload(engine.docker, "w1", "c1", "127.0.0.1", false).destroy();
    expect(inspections).toBe(3);
  });

  it("destroy reports any other refusal in the engine's words", async () => {
    engine = await startFakeEngine((_req, res) => answer(res, 409, { message: "container c1 is paused, unpause it first" }));
    const error: unknown = await new DockerWorkload(engine.docker, "w1", "c1", "127.0.0.1", false).destroy().catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toBe("Removing workload w1 failed: container c1 is paused, unpause it first");
  });

  it("ends the output of a container removed before it was read, and reports other failures", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.startsWith("/containers/dying/")) answer(res, 409, { message: "can not get logs from container which is dead or marked for removal" });
      else answer(res, 500, { message: "driver failed" });
    });
    const chunks: string[] = [];
    await new DockerWorkload(engine.docker, "w1", "dying", "127.0.0.1", false).output((c) => chunks.push(c));
    expect(chunks).toEqual([]);
    const error: unknown = await new DockerWorkload(engine.docker, "w2", "broken", "127.0.0.1", false).output(() => undefined).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toBe("Cannot read the output of workload w2: driver failed");
  });

  it("fails an image build with the step's error from the progress stream, after logging every event", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.startsWith("/images/")) return answer(res, 404, { message: "no such image" });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write('{"stream":"Step 1/2 : FROM node:20-bookworm-slim\\n"}\r\n{"stream":"Step 2/2 : RUN ex');
      res.write('it 7\\n"}\r\n{"errorDetail":{"code":7,"message":"The command \'/bin/sh -c exit 7\' returned a non-zero code: 7"},');
      res.end('"error":"The command \'/bin/sh -c exit 7\' returned a non-zero code: 7"}\r\n');
    });
    const log = memoryLogger();
    const root = new URL("../..", import.meta.url).pathname;
    const preparer = new ImagePreparer(engine.docker, root, { builder: "x:1", runner: "y:1" });
    const error: unknown = await preparer.prepare("x:1", log).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toContain("The command '/bin/sh -c exit 7' returned a non-zero code: 7");
    expect(log.lines.join("\n")).toContain("Step 2/2 : RUN exit 7");
    const build = engine.requests.find((r) => r.url.startsWith("/build"))!;
    const query = Object.fromEntries(new URL(build.url, "http://x").searchParams);
    expect(query).toMatchObject({ t: "x:1", dockerfile: "docker/builder.Dockerfile", rm: "true", forcerm: "true" });
    expect(JSON.parse(query.labels!)).toHaveProperty(["cicd.bundle"]);
  });

  it("a start-up check names the engine and says what to look at", async () => {
    engine = await startFakeEngine((_req, res) => answer(res, 500, { message: "the engine is unwell" }));
    const error: unknown = await checkEngine(connectEngine({ host: engine.dockerHost })).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toBe(`Cannot reach the Docker engine at ${engine.dockerHost}: the engine is unwell. Is dockerd running, and may this user use its socket? Set DOCKER_HOST or docker.host in cicd.yml for another engine.`);
    const nowhere = await checkEngine(connectEngine({ host: "tcp://127.0.0.1:1" }), 5_000).catch((e: unknown) => e);
    expect((nowhere as Error).message).toMatch(/^Cannot reach the Docker engine at tcp:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1\. Check the address/);
  });
});
