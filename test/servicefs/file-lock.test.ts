import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { withFileLock } from "../../src/servicefs/index.js";

const holder = path.join(import.meta.dirname, "fixtures", "hold-lock.ts");
const churner = path.join(import.meta.dirname, "fixtures", "churn-lock.ts");
let dir: string;
let lock: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cicd-lock-"));
  lock = path.join(dir, ".builds.lock");
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** Starts a separate process that takes the lock and holds it. */
async function holdInOtherProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", holder, lock], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
    child.once("exit", (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
  return child;
}

describe("withFileLock", () => {
  it("lets one holder in at a time", async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withFileLock(lock, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });

  it("stops waiting when its signal aborts, and leaves the holder's lock alone", async () => {
    let release!: () => void;
    const held = withFileLock(lock, () => new Promise<void>((r) => (release = r)));
    await vi.waitFor(() => expect(release).toBeTypeOf("function")); // the holder is inside
    const abort = new AbortController();
    let ran = false;
    const waiting = withFileLock(lock, async () => void (ran = true), { signal: abort.signal });
    setTimeout(() => abort.abort(), 30);
    await expect(waiting).rejects.toMatchObject({ code: "CANCELLED" });
    expect(ran).toBe(false);
    expect(await readFile(lock, "utf8")).not.toBe("");
    release();
    await held;
  });

  it("releases the lock when the work throws", async () => {
    await expect(withFileLock(lock, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(withFileLock(lock, async () => "again", { timeoutMs: 500 })).resolves.toBe("again");
  });

  it("waits for a live holder in another process and times out with a clear error", async () => {
    const child = await holdInOtherProcess();
    expect(await readFile(lock, "utf8")).toContain(` ${child.pid} `);
    await expect(withFileLock(lock, async () => "never", { timeoutMs: 300 })).rejects.toMatchObject({
      code: "LOCK_TIMEOUT",
      message: expect.stringContaining(lock),
    });
  });

  it("breaks a lock left by a process that died holding it", async () => {
    const child = await holdInOtherProcess();
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(await readFile(lock, "utf8")).toContain(` ${child.pid} `); // still there: nobody released it
    const started = Date.now();
    await expect(withFileLock(lock, async () => "mine", { timeoutMs: 5_000 })).resolves.toBe("mine");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("never shows a lock file without its holder, so a holder killed at any moment blocks no one", async () => {
    // A process that takes and releases the lock without pause, watched and then killed at
    // random moments: the lock file must name its holder from the instant it exists, or a kill
    // between creating and filling it would leave an empty lock that only age can break (60 s).
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, ["--import", "tsx", churner, lock], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
      const until = Date.now() + 100 + Math.random() * 150;
      while (Date.now() < until) {
        const content = await readFile(lock, "utf8").catch(() => undefined);
        expect(content, "the lock file exists without its holder's name").not.toBe("");
      }
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const started = Date.now();
      await expect(withFileLock(lock, async () => "mine", { timeoutMs: 5_000 })).resolves.toBe("mine");
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it("removes what a holder killed while taking the lock left, when it breaks that holder's lock", async () => {
    const child = await holdInOtherProcess();
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // Its draft (the lock's content, written before the lock is linked to it), as a kill leaves it.
    await writeFile(`${lock}.${child.pid}-abcdefgh.new`, await readFile(lock, "utf8"));
    await writeFile(`${lock}.1-alive.new`, "other-host 1 0 alive"); // another host's, recent: kept
    await expect(withFileLock(lock, async () => "mine", { timeoutMs: 5_000 })).resolves.toBe("mine");
    expect((await readdir(dir)).sort()).toEqual([".builds.lock.1-alive.new"]);
  });

  it("breaks an old lock from another host, but not a recent one", async () => {
    await writeFile(lock, "other-host 12345 0 abc");
    await expect(withFileLock(lock, async () => "x", { timeoutMs: 200, staleMs: 5_000 })).rejects.toMatchObject({ code: "LOCK_TIMEOUT" });
    const old = new Date(Date.now() - 10_000);
    await utimes(lock, old, old);
    await expect(withFileLock(lock, async () => "taken over", { timeoutMs: 1_000, staleMs: 5_000 })).resolves.toBe("taken over");
  });

  it("lets exactly one of many waiters break a stale lock", async () => {
    let inside = 0;
    let most = 0;
    for (let round = 0; round < 10; round++) {
      await writeFile(lock, "other-host 12345 0 abc");
      const old = new Date(Date.now() - 120_000);
      await utimes(lock, old, old);
      await Promise.all(
        Array.from({ length: 30 }, () =>
          withFileLock(lock, async () => {
            most = Math.max(most, ++inside);
            await new Promise((r) => setTimeout(r, 1));
            inside--;
          }),
        ),
      );
    }
    expect(most).toBe(1);
  });

  it("keeps the lock fresh while a long holder works, so no one judging by age breaks it", async () => {
    let release!: () => void;
    const held = withFileLock(lock, () => new Promise<void>((r) => (release = r)), { refreshMs: 20 });
    await vi.waitFor(() => stat(lock));
    // As if the holder had been working for ten minutes without a sign of life.
    const old = new Date(Date.now() - 600_000);
    await utimes(lock, old, old);
    await vi.waitFor(async () => expect((await stat(lock)).mtimeMs).toBeGreaterThan(Date.now() - 60_000), { timeout: 10_000, interval: 20 });
    release();
    await held;
  });

  it("fails the holder's write when its lock file is removed while held", async () => {
    const data = path.join(dir, "data.txt");
    const outcome = withFileLock(lock, async (held) => {
      await unlink(lock);
      await held.assertHeld();
      await writeFile(data, "written without the lock");
    });
    await expect(outcome).rejects.toMatchObject({ code: "LOCK_LOST", message: expect.stringContaining("removed or taken") });
    await expect(readFile(data, "utf8")).rejects.toThrow();
  });

  it("lets exactly one writer in when a held lock is taken by another: the first holder's write fails", async () => {
    const data = path.join(dir, "data.txt");
    let release!: () => void;
    let lostSeen = false;
    let second: Promise<void> | undefined;
    const first = withFileLock(
      lock,
      async (held) => {
        // The lock vanishes (as if broken by someone who judged it stale) and another takes it.
        await unlink(lock);
        second = withFileLock(lock, async (mine) => {
          await mine.assertHeld();
          await writeFile(data, "second");
          await new Promise<void>((r) => (release = r));
        });
        await vi.waitFor(async () => expect(await readFile(lock, "utf8")).not.toBe(""));
        // The heartbeat notices on its own, without a write asking.
        await new Promise((r) => (held.signal.aborted ? r(undefined) : held.signal.addEventListener("abort", r)));
        lostSeen = true;
        await held.assertHeld();
        await writeFile(data, "first");
      },
      { refreshMs: 20 },
    );
    await expect(first).rejects.toMatchObject({ code: "LOCK_LOST" });
    expect(lostSeen).toBe(true);
    await vi.waitFor(() => expect(release).toBeTypeOf("function")); // the second has written
    expect(await readFile(data, "utf8")).toBe("second");
    // The first holder's release left the second's lock in place.
    expect(await readFile(lock, "utf8")).toContain(` ${process.pid} `);
    await vi.waitFor(() => expect(release).toBeTypeOf("function"));
    release();
    await second;
  });

  it("tells the holder its lock was lost even when its work succeeded", async () => {
    const outcome = withFileLock(
      lock,
      async (held) => {
        await unlink(lock);
        await new Promise((r) => (held.signal.aborted ? r(undefined) : held.signal.addEventListener("abort", r)));
        return "done";
      },
      { refreshMs: 20 },
    );
    await expect(outcome).rejects.toMatchObject({ code: "LOCK_LOST" });
  });
});
