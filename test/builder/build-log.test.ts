import { readdir, readFile, stat } from "node:fs/promises";
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
    const log = await BuildLog.open(tmp.dir, "tail-key", ["abcdefgh"], (t) => void (console += t));
    const s = log.stream();
    s.write("ends with abc");
    expect(console).toBe("ends with ");
    s.end();
    await log.close();
    expect(console).toBe("ends with abc");
    expect(await readFile(path.join(tmp.dir, "tail-key.log"), "utf8")).toBe("ends with abc");
  });

  it("writes the console only when given no folder (the manager keeps the one copy)", async () => {
    let console = "";
    const log = await BuildLog.open(undefined, "console-key", ["hunter2-secret"], (t) => void (console += t));
    expect(log.file).toBeUndefined();
    log.line("the password is hunter2-secret");
    const s = log.stream();
    s.write(`base64: ${Buffer.from("hunter2-secret").toString("base64")}\n`);
    s.end();
    await log.close();
    // The last base64 characters also encode padding bits, so only the secret's own part is masked.
    expect(console).toMatch(/^the password is \*\*\*\nbase64: \*\*\*.{0,3}\n$/);
    expect(await readdir(tmp.dir)).not.toContain("console-key.log");
  });

  it("keeps its file 0600 in a folder it creates 0700", async () => {
    const dir = path.join(tmp.dir, "private-logs");
    const log = await BuildLog.open(dir, "mode-key", [], () => {});
    log.line("x");
    await log.close();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(log.file)).mode & 0o777).toBe(0o600);
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
