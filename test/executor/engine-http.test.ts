import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import { EngineClient, splitReference } from "../../src/executor/docker/engine-client.js";
import { engineAddress } from "../../src/executor/docker/engine-http.js";
import { isCicdError } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { answer, type FakeEngine, startFakeEngine } from "./fake-engine.js";

describe("Docker engine transport", () => {
  let engine: FakeEngine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
  });

  it("reads DOCKER_HOST as the docker CLI does, and refuses what it cannot speak", () => {
    expect(engineAddress(undefined, undefined)).toMatchObject({ socketPath: "/var/run/docker.sock" });
    expect(engineAddress("unix:///run/user/1000/docker.sock")).toMatchObject({ socketPath: "/run/user/1000/docker.sock" });
    expect(engineAddress("tcp://10.0.0.5:2376", "")).toMatchObject({ host: "10.0.0.5", port: 2376 });
    expect(engineAddress("tcp://docker", "")).toMatchObject({ host: "docker", port: 2375 });
    const refused = (host: string, tls?: string) => {
      try {
        engineAddress(host, tls);
      } catch (error) {
        return isCicdError(error, "EXECUTOR_FAILED") ? error.message : "";
      }
      return "accepted";
    };
    expect(refused("ssh://me@build-host")).toMatch(/DOCKER_HOST=ssh:\/\/me@build-host is not supported: .*unix:\/\/\/.* or plain tcp:\/\//);
    expect(refused("tcp://10.0.0.5:2376", "1")).toMatch(/with DOCKER_TLS_VERIFY is not supported/);
  });

  it("talks plain HTTP to a tcp:// engine, with the API version in the path and label filters as JSON", async () => {
    engine = await startFakeEngine((_req, res) => answer(res, 200, [{ Id: "c1", Names: ["/n"], State: "running", Labels: { a: "b" } }]), { tcp: true });
    const list = await engine.client.listContainers({ all: true, labels: ["cicd.managed=true", "cicd.id=b 1"] });
    expect(list).toEqual([{ Id: "c1", Names: ["/n"], State: "running", Labels: { a: "b" } }]);
    const url = new URL(engine.requests[0]!.url, "http://x");
    expect(url.pathname).toBe("/v1.41/containers/json");
    expect(url.searchParams.get("all")).toBe("1");
    expect(JSON.parse(url.searchParams.get("filters")!)).toEqual({ label: ["cicd.managed=true", "cicd.id=b 1"] });
  });

  it("keeps one connection alive across calls", async () => {
    engine = await startFakeEngine((_req, res) => answer(res, 200, { Id: "img", Config: { Labels: null } }));
    for (let i = 0; i < 5; i++) expect((await engine.client.inspectImage("node:20")).Id).toBe("img");
    expect(engine.requests).toHaveLength(5);
    expect(engine.connections).toBe(1);
  });

  it("stops a wait when its signal aborts, and only that wait", async () => {
    engine = await startFakeEngine((req, res) => {
      if (req.url.includes("/wait") && req.url.includes("long")) return; // never answers: the container keeps running
      if (req.url.includes("/wait")) answer(res, 200, { StatusCode: 3, Error: null });
      else answer(res, 404, { message: "No such container" });
    });
    const controller = new AbortController();
    const long = engine.client.waitContainer("long", controller.signal);
    const short = engine.client.waitContainer("short");
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await expect(long).rejects.toMatchObject({ name: "AbortError" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await short).toEqual({ StatusCode: 3, Error: null });
    expect(engine.requests.find((r) => r.url.includes("long"))?.url).toBe("/v1.41/containers/long/wait?condition=not-running");
  });

  it("says where it looked when no engine answers", async () => {
    const socket = path.join(os.tmpdir(), `cicd-no-engine-${process.pid}.sock`);
    const client = new EngineClient(engineAddress(`unix://${socket}`));
    await expect(client.listContainers()).rejects.toMatchObject({
      statusCode: undefined,
      message: expect.stringMatching(new RegExp(`^cannot reach the Docker engine at unix://${socket} \\(connect ENOENT`)),
    });
    const executor = new DockerExecutor({ logger: memoryLogger(), engine: client });
    const error: unknown = await executor.find().catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/^Cannot list containers: cannot reach the Docker engine at unix:\/\//);
  });

  it("pulls one tag, never every tag of a repository", async () => {
    engine = await startFakeEngine((_req, res) => answer(res, 200, '{"status":"Pulling from library/x"}\n{"status":"Downloaded newer image"}\n'));
    const events: string[] = [];
    await engine.client.pullImage("registry.local:5000/team/app", (e) => events.push(e.status ?? ""));
    expect(events).toEqual(["Pulling from library/x", "Downloaded newer image"]);
    expect(new URL(engine.requests[0]!.url, "http://x").search).toBe("?fromImage=registry.local%3A5000%2Fteam%2Fapp&tag=latest");
    expect(splitReference("node:20-bookworm-slim")).toEqual({ fromImage: "node", tag: "20-bookworm-slim" });
    expect(splitReference("localhost:1/cicd-test-missing:latest")).toEqual({ fromImage: "localhost:1/cicd-test-missing", tag: "latest" });
    expect(splitReference("node@sha256:abc")).toEqual({ fromImage: "node", tag: "sha256:abc" });
  });
});
