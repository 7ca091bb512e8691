import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor, DockerExecutor } from "../../src/executor/index.js";
import { isCicdError } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";
import { writeFakeCli } from "./fake-cli.js";
import { workloadKit } from "./workload-kit.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();
const IMAGE = "cicd-test-executor:latest";

interface Inspected {
  State: { Running: boolean };
  Config: { Labels: Record<string, string>; Env: string[] };
  HostConfig: Record<string, unknown>;
  Mounts: Array<Record<string, unknown>>;
}
async function inspect(name: string): Promise<Inspected> {
  const { stdout } = await run("docker", ["inspect", name]);
  return JSON.parse(stdout)[0];
}
async function exists(name: string): Promise<boolean> {
  return run("docker", ["inspect", name]).then(() => true, () => false);
}

describe.skipIf(!hasDocker)("DockerExecutor", () => {
  const logger = memoryLogger();
  const root = mkdtempSync(path.join(os.tmpdir(), "cicd-exec-docker-"));
  const executor = createExecutor("docker", { logger, projectRoot: root, images: { builder: IMAGE } }) as DockerExecutor;
  const { spec, start, collect, handles, runId } = workloadKit(() => executor, IMAGE, "t");

  beforeAll(async () => {
    writeFakeCli(path.join(root, "docker/build/cicd.mjs"));
    writeFileSync(
      path.join(root, "docker/builder.Dockerfile"),
      'FROM node:20-bookworm-slim\nCOPY docker/build/ /opt/cicd/\nENTRYPOINT ["node", "/opt/cicd/cicd.mjs"]\n',
    );
    await executor.prepareImage(IMAGE, logger);
  });

  afterAll(async () => {
    await Promise.all(handles.map((h) => h.destroy().catch(() => undefined)));
    const { stdout } = await run("docker", ["ps", "-aq", "--filter", "label=cicd.managed=true", "--filter", `name=t${runId}-`]);
    const left = stdout.split("\n").filter(Boolean);
    if (left.length) await run("docker", ["rm", "-f", ...left]);
    await run("docker", ["rmi", "-f", IMAGE]).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it("runs a workload: stdout and stderr both arrive, then the exit code", async () => {
    // A running workload has its container's address (one that has already exited has none left).
    const running = await start(spec(["sleep", "60"]));
    expect(running.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(running.address).not.toBe("127.0.0.1");
    await running.destroy();

    const handle = await start(spec(["echo", "hello", "world"]));
    const text = await collect(handle);
    expect(text).toContain("out:builder:hello world\n");
    expect(text).toContain("err:hello world\n");
    expect(await handle.wait()).toEqual({ exitCode: 0, oomKilled: false, signal: null });

    const failing = await start(spec(["exit", "3"]));
    expect((await failing.wait()).exitCode).toBe(3);
  });

  it("labels the container and applies limits, no privileges and no Docker socket", async () => {
    const data = mkdtempSync(path.join(os.tmpdir(), "cicd-exec-mount-"));
    writeFileSync(path.join(data, "hello.txt"), "from the host");
    const s = spec(["cat", "/data/hello.txt"], {
      buildKey: "hello-42",
      env: { GREETING: "hi" },
      mounts: [{ host: data, container: "/data", readOnly: true }],
      limits: { memory: "128m", cpus: 0.5, pids: 64 },
    });
    const handle = await start(s);
    expect(await collect(handle)).toContain("from the host");
    const info = await inspect(`cicd-builder-${s.id}`);
    expect(info.Config.Labels).toMatchObject({
      "cicd.role": "builder",
      "cicd.target": "hello",
      "cicd.build": "hello-42",
      "cicd.id": s.id,
      "cicd.managed": "true",
    });
    expect(info.Config.Env).toContain("GREETING=hi");
    expect(info.HostConfig.Memory).toBe(128 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(128 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.PidsLimit).toBe(64);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.SecurityOpt).toContain("no-new-privileges");
    expect(info.HostConfig.AutoRemove).toBe(false);
    expect(info.HostConfig.ExtraHosts).toContain("host.docker.internal:host-gateway");
    expect(info.Mounts).toEqual([expect.objectContaining({ Source: data, Destination: "/data", RW: false })]);
    expect(JSON.stringify(info.Mounts)).not.toContain("docker.sock");
    await handle.wait();
    rmSync(data, { recursive: true, force: true });
  });

  it("refuses to hand a workload the Docker socket", async () => {
    const s = spec(["echo"], { mounts: [{ host: "/var/run/docker.sock", container: "/var/run/docker.sock" }] });
    await expect(executor.start(s)).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    expect(await exists(`cicd-builder-${s.id}`)).toBe(false);
  });

  it("reports a workload killed for using more memory than its limit", async () => {
    const handle = await start(spec(["alloc", "300"], { limits: { memory: "64m" } }));
    const exit = await handle.wait();
    expect(exit.oomKilled).toBe(true);
    expect(exit.exitCode).toBe(137);
  });

  it("stops a workload: SIGTERM first, SIGKILL after the grace period", async () => {
    const polite = await start(spec(["sleep", "60"]));
    let started = Date.now();
    await polite.stop(10_000);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect((await polite.wait()).exitCode).toBe(143);

    const stubborn = await start(spec(["ignore-term"]));
    let text = "";
    const output = stubborn.output((chunk) => (text += chunk));
    // "ready" comes after its SIGTERM handler is in place: a stop before it would simply kill it.
    await expect.poll(() => text.includes("ready"), { timeout: 30_000, interval: 50 }).toBe(true);
    started = Date.now();
    await stubborn.stop(2_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect((await stubborn.wait()).exitCode).toBe(137);
    await output;
    expect(text).toContain("got SIGTERM, ignoring it");
    await stubborn.stop(1_000); // already stopped: fine
  });

  it("destroys a workload, any number of times", async () => {
    const s = spec(["sleep", "60"]);
    const handle = await start(s);
    await handle.destroy();
    expect(await exists(`cicd-builder-${s.id}`)).toBe(false);
    await handle.destroy();
    await handle.stop(0);
    // Its output, asked for only now, is simply over.
    expect(await collect(handle)).toBe("");
  });

  it("destroys a workload while another destroy of it is under way", async () => {
    const s = spec(["ignore-term"]);
    const handle = await start(s);
    const again = await executor.attach(s.id);
    await Promise.all([handle.destroy(), again!.destroy(), handle.destroy()]);
    expect(await exists(`cicd-builder-${s.id}`)).toBe(false);
  });

  it("fails clearly on a missing image and leaves nothing behind", async () => {
    const s = spec(["echo"], { image: "cicd-test-executor-missing:latest" });
    const error: unknown = await executor.start(s).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/No such image: cicd-test-executor-missing/);
    expect((error as Error).message).not.toMatch(/HTTP code/);
    expect(await exists(`cicd-builder-${s.id}`)).toBe(false);
  });

  it("removes the container when starting it fails (port already taken)", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const s = spec(["sleep", "5"], { role: "runner", ports: [`127.0.0.1:${port}:8080`] });
      const error: unknown = await executor.start(s).catch((e: unknown) => e);
      expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
      expect((error as Error).message).toContain(`cicd-runner-${s.id}`);
      expect((error as Error).message).toMatch(/address already in use|port is already allocated/);
      expect(await exists(`cicd-runner-${s.id}`)).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it("does not touch an existing container when the name is taken", async () => {
    const s = spec(["sleep", "30"]);
    await start(s);
    const error: unknown = await executor.start(s).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/already in use/);
    expect((await inspect(`cicd-builder-${s.id}`)).State.Running).toBe(true);
  });

  it("stops waiting when the signal aborts, and the workload keeps running", async () => {
    const s = spec(["sleep", "60"]);
    const handle = await start(s);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const error: unknown = await handle.wait(controller.signal).catch((e: unknown) => e);
    expect(isCicdError(error, "CANCELLED")).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await inspect(`cicd-builder-${s.id}`)).State.Running).toBe(true);
    await handle.stop(0);
    // SIGTERM and SIGKILL go out at once: either may be the one that ends it.
    expect([137, 143]).toContain((await handle.wait()).exitCode);
  });

  it("lets a workload reach the manager at host.docker.internal", async () => {
    let seen = "";
    const server = http.createServer((req, res) => {
      seen = req.url ?? "";
      res.end("pong");
    });
    await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
    try {
      const port = (server.address() as AddressInfo).port;
      const handle = await start(spec(["fetch", `http://${executor.managerHost}:${port}/ping`]));
      const text = await collect(handle);
      expect(text).toContain("got:pong");
      expect(seen).toBe("/ping");
      expect((await handle.wait()).exitCode).toBe(0);
    } finally {
      server.close();
    }
  });

  it("finds its workloads after a restart and re-attaches to one", async () => {
    const s = spec(["sleep", "2"], { buildKey: "hello-7" });
    const first = await start(s);
    const found = await new DockerExecutor({ logger, projectRoot: root }).find();
    expect(found).toContainEqual({ id: s.id, role: "builder", target: "hello", buildKey: "hello-7", running: true });

    const again = await executor.attach(s.id);
    expect(again?.id).toBe(s.id);
    expect(again?.address).toBe(first.address);
    const text = await collect(again!);
    expect(text).toContain("sleeping");
    expect(text).toContain("woke");
    expect(await again!.wait()).toMatchObject({ exitCode: 0, oomKilled: false });
    const after = await executor.find();
    expect(after.find((w) => w.id === s.id)?.running).toBe(false);
    await again!.destroy();
    expect(await executor.attach(s.id)).toBeUndefined();
  });
});
