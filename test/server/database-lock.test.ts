import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lockDatabase } from "../../src/store/database-lock.js";
import { writeConfigFile, testTarget } from "../helpers/config-file.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { freePort } from "../helpers/free-port.js";
import { projectRoot } from "../helpers/images.js";
import { spawnServer, type ServerProcess } from "../helpers/server-process.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/**
 * One server per database (issue 10, point 6): a second server on the same database refuses to
 * start and names the holder; a crashed holder's lock is taken over at once, by exactly one of
 * several servers starting together; a database deleted or replaced under a running server
 * turns its health 503, refuses triggers and webhooks, and is logged once.
 */

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

const env: NodeJS.ProcessEnv = { CICD_API_TOKEN: "database-lock-test-token-0123456789" };

/** A cicd.yml (local executor, one target) in a fresh folder; its database is `<dir>/data/cicd.sqlite`. */
function writeConfig() {
  const { dir, file } = writeConfigFile(
    { executor: "local", host: "127.0.0.1", targets: [testTarget("hello", { url: "files:///nowhere", commands: ["true"] })] },
    { prefix: "cicd-db-lock-" },
  );
  return { file, database: path.join(dir, "data", "cicd.sqlite") };
}

/** `cicd server` as a child process that may never listen: resolves on "listening on" or on exit. */
function startServerProcess(configFile: string, port: number) {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "test/helpers/cicd-cli.ts"), "server", "--config", configFile], {
    cwd: projectRoot,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let text = "";
  const outcome = new Promise<{ listening: boolean; code: number | null; output: string }>((resolve) => {
    const seen = (d: Buffer) => {
      text += d;
      if (text.includes("listening on")) resolve({ listening: true, code: null, output: text });
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", seen);
    child.once("close", (code) => resolve({ listening: false, code, output: text }));
  });
  return { child, outcome };
}

async function killHard(server: { child: ChildProcess }) {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGKILL");
  await exited;
}

describe("a second server on the same database", () => {
  it("exits non-zero naming the database and the holder; after kill -9 of the holder a new one starts at once", async () => {
    const { file, database } = writeConfig();
    const first: ServerProcess = await spawnServer(file, { ...env, PORT: String(await freePort()) });
    children.push(first.child);

    const second = await startServerProcess(file, await freePort()).outcome;
    expect(second.listening).toBe(false);
    expect(second.code).toBe(1);
    expect(second.output).toContain(`cicd: ${database} is in use by another cicd server (pid ${first.child.pid} on host ${hostname()}, since `);
    expect(second.output).toContain("stop it first, or give this one its own database");
    expect(second.output).not.toMatch(/\n\s+at /); // a message, not a stack trace

    // kill -9 leaves the lock file and its record behind; the kernel lock went with the process.
    await killHard(first);
    const third = await startServerProcess(file, await freePort()).outcome;
    expect(third.output).toContain("listening on");
    expect(third.listening).toBe(true);
  }, 120_000);

  it("two servers started together after a crash: exactly one runs, the other names it", async () => {
    const { file, database } = writeConfig();
    const crashed = await spawnServer(file, { ...env, PORT: String(await freePort()) });
    children.push(crashed.child);
    await killHard(crashed);

    // Different ports: if both got the database, both would listen.
    const a = startServerProcess(file, await freePort());
    const b = startServerProcess(file, await freePort());
    const outcomes = await Promise.all([a.outcome, b.outcome]);
    expect(outcomes.filter((o) => o.listening)).toHaveLength(1);
    const loser = outcomes.find((o) => !o.listening)!;
    const winner = outcomes[0]!.listening ? a : b;
    expect(loser.code).toBe(1);
    expect(loser.output).toContain(`${database} is in use by another cicd server (pid ${winner.child.pid} on host ${hostname()}`);
  }, 120_000);
});

describe("lockDatabase", () => {
  /** A contender process (lock-contender.ts): `next()` reads its next line ("" once it ended). */
  function contender(database: string) {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "test/server/lock-contender.ts"), database], {
      cwd: projectRoot,
      stdio: ["pipe", "pipe", "inherit"],
    });
    children.push(child);
    const lines: string[] = [];
    let partial = "";
    let closed = false;
    let wake: (() => void) | undefined;
    child.stdout.on("data", (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop()!;
      lines.push(...parts);
      wake?.();
    });
    child.once("close", () => ((closed = true), wake?.()));
    let read = 0;
    const next = async (): Promise<string> => {
      while (read >= lines.length && !closed) await new Promise<void>((resolve) => (wake = resolve));
      return lines[read++] ?? "";
    };
    return { child, next };
  }

  it("a crashed holder's lock goes to exactly one of several contenders trying at the same moment", async () => {
    const database = path.join(mkdtempSync(path.join(tmpdir(), "cicd-lock-race-")), "cicd.sqlite");
    let contenders = Array.from({ length: 8 }, () => contender(database));
    for (const c of contenders) expect(await c.next()).toBe("ready");
    // Each round every contender tries at once, or a little later (up to 3 ms, spread so that
    // some try while the first is in the middle of taking the lock); the winner is then killed
    // with SIGKILL, so the next round races to take over a crashed holder's lock.
    while (contenders.length > 1) {
      for (const [i, c] of contenders.entries()) c.child.stdin!.write(`go ${((i * 3) / contenders.length).toFixed(2)}\n`);
      const lines = await Promise.all(contenders.map((c) => c.next()));
      const winners = contenders.filter((_, i) => lines[i] === "locked");
      expect(winners).toHaveLength(1);
      for (const line of lines.filter((l) => l !== "locked")) {
        expect(line).toContain(`is in use by another cicd server (pid ${winners[0]!.child.pid} on host ${hostname()}`);
      }
      await killHard(winners[0]!);
      contenders = contenders.filter((c) => c !== winners[0]);
    }
  }, 120_000);

  it("is refused to a second holder in the same process, and free again once released", () => {
    const database = path.join(mkdtempSync(path.join(tmpdir(), "cicd-lock-")), "cicd.sqlite");
    const lock = lockDatabase(database);
    expect(() => lockDatabase(database)).toThrow(`is in use by another cicd server (pid ${process.pid} on host ${hostname()}`);
    lock.release();
    lockDatabase(database).release();
  });

  /** Leaves a holder record beside a fresh database, as a server that ended without release would. */
  function leaveRecord(record: Record<string, unknown>) {
    const database = path.join(mkdtempSync(path.join(tmpdir(), "cicd-lock-")), "cicd.sqlite");
    writeFileSync(`${database}.lock.json`, JSON.stringify({ since: "2026-01-01T00:00:00.000Z", ...record }));
    return database;
  }

  it("respects a record left from another host, and says how to clear it", () => {
    const database = leaveRecord({ pid: 4242, host: "ci-elsewhere", boot: "another-kernel", pidns: "", started: "" });
    expect(() => lockDatabase(database)).toThrow(
      `${database} is in use by another cicd server (pid 4242 on host ci-elsewhere, since 2026-01-01T00:00:00.000Z); it was taken on another host`,
    );
    expect(() => lockDatabase(database)).toThrow(`delete ${database}.lock.json`);
  });

  it("takes over a record of this host whose pid now belongs to another process (pid reused)", async () => {
    const { readFileSync, readlinkSync } = await import("node:fs");
    const sleeper = spawn("sleep", ["60"]);
    children.push(sleeper);
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const pidns = readlinkSync("/proc/self/ns/pid");
    // Same pid, but the process that took the lock started at another time.
    const database = leaveRecord({ pid: sleeper.pid, host: hostname(), boot, pidns, started: "1" });
    lockDatabase(database).release();
    // The same record naming the live process itself (its real start time) while the kernel
    // lock is free means locks do not work here: refused.
    const stat = readFileSync(`/proc/${sleeper.pid}/stat`, "utf8");
    const started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    const live = leaveRecord({ pid: sleeper.pid, host: hostname(), boot, pidns, started });
    expect(() => lockDatabase(live)).toThrow(`pid ${sleeper.pid} on host ${hostname()}`);
    sleeper.kill("SIGKILL");
  });
});

describe("a database deleted or replaced under a running server", () => {
  async function start(): Promise<TestServer> {
    const targets = [{ name: "hello", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }];
    return startTestServer(testConfig({ targets }), { executor: new FakeExecutor() });
  }

  /** Polls /healthz until it is not 200 (the watch checks every second). */
  async function healthWhenDown(server: TestServer) {
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${server.url}/healthz`);
      if (res.status !== 200) return { status: res.status, body: (await res.json()) as { status: string; reason: string } };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("health stayed 200");
  }

  it("is noticed: health 503 with the reason, REST triggers and webhooks refused with 503, logged once", async () => {
    const server = await start();
    try {
      expect((await server.api("/api/v1/builds", { method: "POST", json: { target: "hello" } })).status).toBe(202);
      const database = server.config.database;
      // Replaced: a new file at the path (as a restore from backup would do).
      writeFileSync(`${database}.new`, "");
      renameSync(`${database}.new`, database);

      const health = await healthWhenDown(server);
      expect(health.status).toBe(503);
      expect(health.body.status).toBe("unavailable");
      expect(health.body.reason).toContain("The database file cicd.sqlite was replaced while the server ran");
      expect(health.body.reason).not.toContain(server.dir); // no absolute paths in answers

      const trigger = await server.api("/api/v1/builds", { method: "POST", json: { target: "hello" } });
      expect(trigger.status).toBe(503);
      expect(((await trigger.json()) as { error: string }).error).toContain("takes no new builds until it is restarted");

      const webhook = await fetch(`${server.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "x-github-event": "push", "x-github-delivery": "d-1", "content-type": "application/json" },
        body: "{}",
      });
      expect(webhook.status).toBe(503);

      // Several more ticks pass; the loss is still logged once, at error level.
      await new Promise((r) => setTimeout(r, 2500));
      const logged = server.logLines.filter((l) => l.includes("was replaced while the server ran"));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatch(/ ERROR /);
    } finally {
      await server.close(0);
    }
  }, 60_000);

  it("is noticed when the file is only deleted", async () => {
    const server = await start();
    try {
      unlinkSync(server.config.database);
      const health = await healthWhenDown(server);
      expect(health.status).toBe(503);
      expect(health.body.reason).toContain("The database file cicd.sqlite was deleted while the server ran");
    } finally {
      await server.close(0);
    }
  }, 60_000);
});
