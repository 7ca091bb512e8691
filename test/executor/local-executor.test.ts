import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createExecutor, LocalExecutor } from "../../src/executor/index.js";
import type { WorkloadHandle, WorkloadSpec } from "../../src/executor/index.js";
import { isCicdError } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { writeFakeCli } from "./fake-cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "cicd-exec-local-"));
const cli = writeFakeCli(path.join(dir, "cli.mjs"));
let seq = 0;

function spec(args: string[], extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return { id: `l${++seq}`, role: "builder", target: "hello", image: "cicd-builder", args, env: {}, mounts: [], ...extra };
}
async function collect(handle: WorkloadHandle): Promise<string> {
  let text = "";
  await handle.output((chunk) => (text += chunk));
  return text;
}
/** Alive and not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("LocalExecutor", () => {
  const logger = memoryLogger();
  const executor = createExecutor("local", { logger, cliCommand: [process.execPath, cli] });

  afterAll(async () => {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the role as a host process: output of both streams, then the exit code", async () => {
    const handle = await executor.start(spec(["echo", "hello"]));
    expect(handle.address).toBe("127.0.0.1");
    expect(executor.managerHost).toBe("127.0.0.1");
    const text = await collect(handle);
    expect(text).toContain("out:builder:hello\n");
    expect(text).toContain("err:hello\n");
    expect(await handle.wait()).toEqual({ exitCode: 0, oomKilled: false, signal: null });
    expect((await (await executor.start(spec(["exit", "3"]))).wait()).exitCode).toBe(3);
  });

  it("keeps output that arrives before anyone reads it", async () => {
    const handle = await executor.start(spec(["echo", "early"]));
    await handle.wait();
    expect(await collect(handle)).toContain("out:builder:early");
  });

  it("warns once that builds are not isolated and limits are not enforced", async () => {
    await (await executor.start(spec(["exit", "0"]))).wait();
    const warnings = logger.lines.filter((l) => l.includes("NOT isolated"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/limits .*not enforced/);
  });

  it("passes the workload's env, and none of the manager's secrets", async () => {
    process.env.CICD_API_TOKEN = "manager-secret-token";
    try {
      const handle = await executor.start(spec(["env", "GREETING", "CICD_API_TOKEN", "PATH"], { env: { GREETING: "hi" } }));
      const text = await collect(handle);
      expect(text).toContain("GREETING=hi\n");
      expect(text).toContain("CICD_API_TOKEN=<unset>\n");
      expect(text).toContain(`PATH=${process.env.PATH}\n`);
    } finally {
      delete process.env.CICD_API_TOKEN;
    }
  });

  it("maps container paths in arguments and env values to the mounts' host paths", async () => {
    const servicefs = mkdtempSync(path.join(os.tmpdir(), "cicd-exec-sfs-"));
    const mounts = [
      { host: servicefs, container: "/srv/servicefs" },
      { host: "/host/secrets", container: "/srv/servicefs/secrets", readOnly: true },
    ];
    const s = spec(["args", "/srv/servicefs/hello", "--servicefs=/srv/servicefs", "/srv/servicefs/secrets/a.env", "/srv/other", "/srv/servicefsX"], {
      mounts,
    });
    expect(JSON.parse(await collect(await executor.start(s)))).toEqual([
      `${servicefs}/hello`,
      `--servicefs=${servicefs}`,
      "/host/secrets/a.env",
      "/srv/other",
      "/srv/servicefsX",
    ]);
    const env = await collect(await executor.start(spec(["env", "SFS"], { env: { SFS: "/srv/servicefs/x" }, mounts })));
    expect(env).toContain(`SFS=${servicefs}/x`);
    // The workload really writes where the mount points.
    await (await executor.start(spec(["write", "/srv/servicefs/out.txt", "done"], { mounts }))).wait();
    expect(readFileSync(path.join(servicefs, "out.txt"), "utf8")).toBe("done");
    rmSync(servicefs, { recursive: true, force: true });
  });

  it("stop() ends the whole process group, including what the workload started", async () => {
    const handle = await executor.start(spec(["spawn-sleep"]));
    let text = "";
    const output = handle.output((chunk) => (text += chunk));
    await expect.poll(() => /grandchild \d+/.test(text), { timeout: 5_000, interval: 50 }).toBe(true);
    const grandchild = Number(/grandchild (\d+)/.exec(text)![1]);
    expect(alive(grandchild)).toBe(true);
    await handle.stop(2_000);
    expect((await handle.wait()).signal).toBe("SIGTERM");
    await expect.poll(() => !alive(grandchild), { timeout: 5_000, interval: 50 }).toBe(true);
    await output;
  });

  it("ends what a workload left running when it exits, as a container would", async () => {
    const handle = await executor.start(spec(["leave-behind"]));
    const text = await collect(handle);
    const grandchild = Number(/grandchild (\d+)/.exec(text)![1]);
    expect((await handle.wait()).exitCode).toBe(0);
    await expect.poll(() => !alive(grandchild), { timeout: 5_000, interval: 50 }).toBe(true);
  });

  it("stop() sends SIGKILL after the grace period when SIGTERM is ignored", async () => {
    const handle = await executor.start(spec(["ignore-term"]));
    let text = "";
    const output = handle.output((chunk) => (text += chunk));
    await expect.poll(() => text.includes("ready"), { timeout: 5_000, interval: 50 }).toBe(true);
    const started = Date.now();
    await handle.stop(700);
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(await handle.wait()).toEqual({ exitCode: null, oomKilled: false, signal: "SIGKILL" });
    await output;
    expect(text).toContain("got SIGTERM, ignoring it");
    await handle.stop();
    await handle.destroy();
    await handle.destroy();
  });

  it("stops waiting when the signal aborts, and the process keeps running", async () => {
    const handle = await executor.start(spec(["sleep", "30"]));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error: unknown = await handle.wait(controller.signal).catch((e: unknown) => e);
    expect(isCicdError(error, "CANCELLED")).toBe(true);
    const pid = (handle as unknown as { pid: number }).pid;
    expect(alive(pid)).toBe(true);
    await handle.destroy();
    expect((await handle.wait()).signal).toBe("SIGKILL");
  });

  it("fails clearly when the CLI cannot be started", async () => {
    const broken = new LocalExecutor({ logger: memoryLogger(), cliCommand: [path.join(dir, "no-such-node")] });
    const error: unknown = await broken.start(spec(["echo"])).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/Could not start the builder process .*no-such-node.*ENOENT/);
  });

  it("has nothing to find or re-attach to, and close() stops what still runs", async () => {
    const own = new LocalExecutor({ logger: memoryLogger(), cliCommand: [process.execPath, cli] });
    expect(await own.find()).toEqual([]);
    expect(await own.attach("l1")).toBeUndefined();
    const handle = await own.start(spec(["sleep", "30"]));
    await own.prepareImage("cicd-builder", memoryLogger());
    await own.close();
    expect((await handle.wait()).signal).toBe("SIGTERM");
    expect(existsSync(cli)).toBe(true);
  });
});
