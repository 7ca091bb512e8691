import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuildLog } from "../../src/builder/build-log.js";
import { runCommands } from "../../src/builder/run-commands.js";
import { tempDir } from "../helpers/git-repos.js";

describe("the build log", () => {
  let tmp: { dir: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir("cicd-log-");
  });
  afterAll(() => tmp.cleanup());

  it("masks a secret split across writes, on the console and in <key>.log", async () => {
    let console = "";
    const log = await BuildLog.open(tmp.dir, "split-key", ["hunter2-secret", undefined, ""], (t) => void (console += t));
    const out = log.stream();
    const err = log.stream();
    out.write("password is hun");
    err.write("warning: hunter2-");
    out.write("ter2-sec");
    err.write("secret!\n");
    out.write("ret, ok\n");
    out.end();
    err.end();
    log.line("the header names hunter2-secret too");
    await log.close();
    const file = await readFile(path.join(tmp.dir, "split-key.log"), "utf8");
    expect(file).toBe(console);
    expect(file).not.toContain("hunter2");
    // The two streams interleave, but each one's text stays in order around its mask.
    expect(file.match(/\*\*\*/g)).toHaveLength(3);
    expect(file).toMatch(/password is .*\*\*\*, ok\n/s);
    expect(file).toMatch(/warning: .*\*\*\*!\n/s);
    expect(file).toContain("the header names *** too\n");
  });

  it("releases a held-back tail that turned out not to be a secret when the stream ends", async () => {
    let console = "";
    const log = await BuildLog.open(tmp.dir, "tail-key", ["abcdef"], (t) => void (console += t));
    const s = log.stream();
    s.write("ends with abc");
    expect(console).toBe("ends with ");
    s.end();
    await log.close();
    expect(console).toBe("ends with abc");
    expect(await readFile(path.join(tmp.dir, "tail-key.log"), "utf8")).toBe("ends with abc");
  });

  it("appends to the log of the same key instead of losing what was there", async () => {
    for (const text of ["first", "second"]) {
      const log = await BuildLog.open(tmp.dir, "again-key", [], () => {});
      log.line(text);
      await log.close();
    }
    expect(await readFile(path.join(tmp.dir, "again-key.log"), "utf8")).toBe("first\nsecond\n");
  });

  it("stops a running command (and what it started) when the build is aborted", async () => {
    const log = await BuildLog.open(tmp.dir, "abort-key", [], () => {});
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const started = Date.now();
    const outcome = await runCommands(["sleep 30 & sleep 30; echo not-reached", "echo never"], {
      cwd: tmp.dir,
      env: { PATH: process.env.PATH },
      log,
      signal: abort.signal,
    });
    outcome.killLeftovers();
    await log.close();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(outcome.failedCommand).toBe(0);
    expect(outcome.results).toHaveLength(1);
    expect(outcome.results[0]!.signal).toBe("SIGTERM");
    expect(outcome.error?.message).toContain("killed by SIGTERM");
    const file = await readFile(log.file, "utf8");
    expect(file).not.toMatch(/^not-reached$/m);
    expect(file).not.toContain("$ echo never");
  });
});
