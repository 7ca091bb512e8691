import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor, type ExecutorName, type ExecutorOptions } from "../../src/executor/index.js";
import type { Executor } from "../../src/executor/index.js";
import { isCicdError } from "../../src/shared/errors.js";
import { requireDocker } from "../helpers/docker.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startRemoteEngine, type RemoteEngine } from "../helpers/remote-engine.js";
import { sshServerUnavailable, startSshServer, type SshServer } from "../helpers/ssh-server.js";
import { joinSwarm, type SwarmMembership } from "../helpers/swarm.js";
import { writeFakeCli } from "./fake-cli.js";
import { workloadKit } from "./workload-kit.js";

/**
 * The Executor contract (src/executor/types.ts), checked the same way against every real
 * set-up a user can have: the local engine over its socket, a remote engine over TLS (a second
 * dockerd this test starts, with certificates it makes), and a single-node swarm. Only the
 * interface is used, so what passes here holds for the manager whichever executor it has.
 */

const run = promisify(execFile);
const hasDocker = await requireDocker();
const IMAGE = "cicd-test-contract:latest";
const BASE = process.env.CICD_BASE_IMAGE ?? "node:20-bookworm-slim";

interface Opened {
  options: Partial<ExecutorOptions>;
  /** Containers of the engine (running or not) carrying `label`: what a workload left behind. */
  containers(label: string): Promise<string[]>;
  /** The same engine with credentials it must refuse: a client certificate its CA never signed (TLS), a host key known_hosts does not hold (ssh). */
  refused?: { options: Partial<ExecutorOptions>; why: RegExp };
  close(): Promise<void>;
}

interface SetUp {
  name: string;
  executor: ExecutorName;
  /** It has credentials the engine (or its host) must refuse: a wrong client certificate, an unknown host key. */
  refusable?: boolean;
  /** What this machine lacks for the set-up: skipped on a developer's machine, a failure under CI=true. */
  unavailable?: () => string | undefined;
  /** Starts what the set-up needs. */
  open(): Promise<Opened>;
}

const localContainers = (label: string) => run("docker", ["ps", "-aq", "--filter", `label=${label}`]).then((r) => r.stdout.split("\n").filter(Boolean));

const setUps: SetUp[] = [
  { name: "docker, local engine", executor: "docker", open: async () => ({ options: {}, containers: localContainers, close: async () => undefined }) },
  {
    name: "docker, remote engine over TLS",
    executor: "docker",
    refusable: true,
    open: async () => {
      const engine: RemoteEngine = await startRemoteEngine({ images: [BASE] });
      const tls = (dir: string) => ({ ca: engine.ca, cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") });
      return {
        options: { docker: { host: engine.host, tls: tls(engine.certDir) } },
        refused: { options: { docker: { host: engine.host, tls: tls(engine.wrongCertDir) } }, why: /certificate/i },
        containers: (label) => engine.docker(["ps", "-aq", "--filter", `label=${label}`]).then((r) => r.stdout.split("\n").filter(Boolean)),
        close: () => engine.close(),
      };
    },
  },
  {
    // This machine's engine reached as a remote one: through sshd, `docker system dial-stdio`.
    name: "docker, engine over ssh",
    executor: "docker",
    refusable: true,
    unavailable: sshServerUnavailable,
    open: async () => {
      const ssh: SshServer = await startSshServer();
      return {
        options: { docker: { host: ssh.url, sshConfig: ssh.config } },
        refused: { options: { docker: { host: ssh.url, sshConfig: ssh.wrongHostKeyConfig } }, why: /Host key verification failed/ },
        containers: localContainers,
        close: () => ssh.close(),
      };
    },
  },
  {
    name: "swarm, single node",
    executor: "swarm",
    open: async () => {
      const swarm: SwarmMembership = await joinSwarm();
      return { options: {}, containers: localContainers, close: () => swarm.leave() };
    },
  },
];

for (const setUp of setUps) {
  describe.skipIf(!hasDocker || (setUp.unavailable?.() !== undefined && process.env.CI !== "true"))(`executor contract: ${setUp.name}`, () => {
    const logger = memoryLogger();
    const root = mkdtempSync(path.join(os.tmpdir(), "cicd-contract-"));
    const instance = `contract-${randomBytes(4).toString("hex")}`;
    let executor: Executor;
    let opened: Opened;
    let options: Partial<ExecutorOptions> = {};
    const { spec, start, collect, handles } = workloadKit(() => executor, IMAGE, "c");

    const make = (extra: Partial<ExecutorOptions> = {}) =>
      createExecutor(setUp.executor, { logger, projectRoot: root, images: { builder: IMAGE }, instance, ...options, ...extra } as ExecutorOptions);

    beforeAll(async () => {
      opened = await setUp.open();
      options = opened.options;
      writeFakeCli(path.join(root, "docker/build/cicd.mjs"));
      writeFileSync(path.join(root, "docker/builder.Dockerfile"), `FROM ${BASE}\nCOPY docker/build/ /opt/cicd/\nENTRYPOINT ["node", "/opt/cicd/cicd.mjs"]\n`);
      executor = make();
      expect(await executor.check()).toMatch(setUp.executor === "swarm" ? /swarm of 1 node/ : /^Docker \d/);
      await executor.prepareImage(IMAGE, logger);
    }, 300_000);

    afterAll(async () => {
      await Promise.all(handles.map((h) => h.destroy().catch(() => undefined)));
      await opened?.close();
      rmSync(root, { recursive: true, force: true });
    }, 120_000);

    it("runs a workload: stdout and stderr both arrive, then the exit code", async () => {
      const handle = await start(spec(["echo", "hello", "world"]));
      const text = await collect(handle);
      expect(text).toContain("out:builder:hello world\n");
      expect(text).toContain("err:hello world\n");
      expect(await handle.wait()).toMatchObject({ exitCode: 0, oomKilled: false });
      const failing = await start(spec(["exit", "3"]));
      expect((await failing.wait()).exitCode).toBe(3);
    }, 60_000);

    it("labels its workloads: a restarted manager finds them and re-attaches; another instance never sees them", async () => {
      const s = spec(["sleep", "3"], { buildKey: "hello-7" });
      await start(s);
      const restarted = make();
      expect(await restarted.find()).toContainEqual({ id: s.id, role: "builder", target: "hello", buildKey: "hello-7", running: true });
      expect((await make({ instance: `${instance}-other` }).find()).map((w) => w.id)).not.toContain(s.id);
      const again = await restarted.attach(s.id);
      expect(again?.id).toBe(s.id);
      const text = await collect(again!);
      expect(text).toContain("sleeping");
      expect(text).toContain("woke");
      expect(await again!.wait()).toMatchObject({ exitCode: 0, oomKilled: false });
      expect((await executor.find()).find((w) => w.id === s.id)?.running).toBe(false);
      await again!.destroy();
      expect(await executor.attach(s.id)).toBeUndefined();
    }, 60_000);

    it("reports a workload killed for using more memory than its limit", async () => {
      const handle = await start(spec(["alloc", "300"], { limits: { memory: "64m" } }));
      const exit = await handle.wait();
      expect(exit.oomKilled).toBe(true);
      expect(exit.exitCode).toBe(137);
    }, 60_000);

    it("stops a running workload, and stops waiting when told to while it runs on", async () => {
      const handle = await start(spec(["sleep", "60"]));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const error: unknown = await handle.wait(controller.signal).catch((e: unknown) => e);
      expect(isCicdError(error, "CANCELLED")).toBe(true);
      expect((await executor.find()).find((w) => w.id === handle.id)?.running).toBe(true);
      const started = Date.now();
      await handle.stop(2_000);
      const exit = await handle.wait();
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(exit.exitCode === null || exit.exitCode === 143 || exit.exitCode === 137).toBe(true);
      expect((await executor.find()).find((w) => w.id === handle.id)?.running ?? false).toBe(false);
    }, 60_000);

    it("destroys a workload, any number of times, and leaves nothing", async () => {
      const s = spec(["sleep", "60"]);
      const handle = await start(s);
      await Promise.all([handle.destroy(), handle.destroy()]);
      await handle.destroy();
      expect((await executor.find()).map((w) => w.id)).not.toContain(s.id);
      expect(await executor.attach(s.id)).toBeUndefined();
      // Nothing runs on: the engine holds no container of it (swarm: not even an orphaned task's).
      expect(await opened.containers(`cicd.id=${s.id}`)).toEqual([]);
    }, 60_000);

    // Only where there are credentials to refuse (TLS, ssh): defined there alone, never skipped.
    if (setUp.refusable) it("refuses credentials the engine (or its host) must not accept, naming the engine", async () => {
      const error: unknown = await make(opened.refused!.options).check().catch((e: unknown) => e);
      expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
      const host = (options.docker as { host: string }).host;
      expect((error as Error).message).toContain(`Cannot reach the Docker engine at ${host}`);
      expect((error as Error).message).toMatch(opened.refused!.why);
    }, 60_000);

    it("fails to start with the engine's reason on a missing image, and leaves nothing", async () => {
      const s = spec(["echo"], { image: "cicd-test-contract-missing:latest" });
      const error: unknown = await executor.start(s).catch((e: unknown) => e);
      expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
      expect((error as Error).message).toMatch(/cicd-test-contract-missing/);
      expect((error as Error).message).not.toMatch(/HTTP code/);
      expect((await executor.find()).map((w) => w.id)).not.toContain(s.id);
    }, 120_000);

    it("lets a workload reach the manager at the executor's managerHost", async () => {
      let seen = "";
      const server = http.createServer((req, res) => {
        seen = req.url ?? "";
        res.end("pong");
      });
      await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
      try {
        const port = (server.address() as AddressInfo).port;
        const handle = await start(spec(["fetch", `http://${executor.managerHost}:${port}/ping`]));
        expect(await collect(handle)).toContain("got:pong");
        expect(seen).toBe("/ping");
        expect((await handle.wait()).exitCode).toBe(0);
      } finally {
        server.close();
      }
    }, 60_000);
  });
}
