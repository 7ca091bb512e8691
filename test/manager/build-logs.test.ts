import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BuildLogs, parseLogLimit } from "../../src/manager/build-logs.js";

const logsDir = () => path.join(mkdtempSync(path.join(tmpdir(), "cicd-build-logs-")), "logs");

/** Numbered lines in writes of uneven sizes (cut mid-line), as a build's output arrives. */
function* output(totalBytes: number): Generator<string> {
  let text = "";
  let line = 1;
  let sizes = 0;
  let written = 0;
  while (written < totalBytes) {
    while (text.length < 70_000) text += `line ${line++} of the build — with some ünïcödé and padding ${"x".repeat(line % 50)}\n`;
    const size = 1 + ((sizes++ * 7919) % 65_536);
    yield text.slice(0, size);
    written += Buffer.byteLength(text.slice(0, size));
    text = text.slice(size);
  }
  yield text;
}

describe("build logs with a logLimit", () => {
  it("keeps the head and the tail of a log of a few MB with a marker between, and tells followers every line", async () => {
    const logs = new BuildLogs(logsDir(), { logLimit: "64k" });
    const limit = parseLogLimit("64k");
    let live = "";
    logs.onLog("big", (chunk) => void (live += chunk));
    for (const chunk of output(4 * 1024 * 1024)) logs.append("big", chunk);
    expect(Buffer.byteLength(live)).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    // While the build runs the file holds the head only; the tail waits in two bounded halves.
    expect(statSync(logs.path("big")).size).toBeLessThanOrEqual(limit / 2);
    for (const half of [0, 1]) expect(statSync(`${logs.path("big")}.tail-${half}`).size).toBeLessThanOrEqual(limit / 4);
    await logs.end("big");

    const kept = readFileSync(logs.path("big"), "utf8");
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(limit);
    expect(Buffer.byteLength(kept)).toBeGreaterThan(limit / 2);
    const marker = /^… ([\d,]+) bytes of log left out \(logLimit 64k\) …$/m.exec(kept);
    expect(marker).not.toBeNull();
    const [head, tail] = kept.split(`${marker![0]}\n`) as [string, string];
    // Head and tail are whole lines of the full log: its start and its end.
    expect(live.startsWith(head)).toBe(true);
    expect(head.endsWith("\n")).toBe(true);
    expect(live.endsWith(tail)).toBe(true);
    expect(live[live.length - tail.length - 1]).toBe("\n");
    // The count is exact.
    expect(Number(marker![1]!.replace(/,/g, ""))).toBe(Buffer.byteLength(live) - Buffer.byteLength(head) - Buffer.byteLength(tail));
    expect(readdirSync(logs.dir)).toEqual(["big.log"]);
  });

  it("keeps a log under the limit whole, without a marker", async () => {
    const logs = new BuildLogs(logsDir(), { logLimit: "1m" });
    let all = "";
    for (const chunk of output(300_000)) {
      logs.append("small", chunk);
      all += chunk;
    }
    await logs.end("small");
    expect(readFileSync(logs.path("small"), "utf8")).toBe(all);
  });

  it("keeps the head in <key>.log as it comes, so readers of the file follow it live", () => {
    const logs = new BuildLogs(logsDir(), { logLimit: "64k" });
    logs.append("live", "first line\n");
    expect(readFileSync(logs.path("live"), "utf8")).toBe("first line\n");
    logs.note("live", "a note");
    expect(readFileSync(logs.path("live"), "utf8")).toBe("first line\n[cicd] a note\n");
  });

  it("cuts the head at a character boundary when a line is longer than the head", async () => {
    const logs = new BuildLogs(logsDir(), { logLimit: "2k" });
    logs.append("wide", "é".repeat(5000));
    logs.append("wide", "\nlast line\n");
    await logs.end("wide");
    const kept = readFileSync(logs.path("wide"), "utf8");
    expect(kept).not.toContain("\ufffd");
    expect(kept).toMatch(/^é+\n… [\d,]+ bytes of log left out \(logLimit 2k\) …\n(é*\n)?last line\n$/);
  });

  it("writes logs 0600 in a 0700 folder", async () => {
    const logs = new BuildLogs(logsDir(), { logLimit: "1k" });
    logs.append("private", "x".repeat(5000));
    expect(statSync(logs.dir).mode & 0o777).toBe(0o700);
    for (const file of [logs.path("private"), `${logs.path("private")}.tail-0`, `${logs.path("private")}.tail-1`]) expect(statSync(file).mode & 0o777).toBe(0o600);
    await logs.end("private");
    expect(existsSync(`${logs.path("private")}.tail-0`)).toBe(false);
  });

  it("without a logLimit keeps everything", async () => {
    const logs = new BuildLogs(logsDir());
    logs.append("all", "a".repeat(200_000));
    await logs.end("all");
    expect(statSync(logs.path("all")).size).toBe(200_000);
  });
});
