import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BUILDS_FILE, type BuildsDocument } from "../../src/servicefs/index.js";

const hammer = path.join(import.meta.dirname, "fixtures", "hammer.ts");
const children: ChildProcess[] = [];
let work: string | undefined;

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  if (work) await rm(work, { recursive: true, force: true });
});

function start(args: string[]): { child: ChildProcess; ready: Promise<void>; done: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", hammer, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  let out = "";
  const ready = new Promise<void>((resolve) => child.stdout!.on("data", (d: Buffer) => (out += d.toString()).includes("ready") && resolve()));
  const done = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, ready, done };
}

describe("builds.json shared by two processes", () => {
  it("keeps every one of 400 builds when two processes update it at the same time", async () => {
    work = await mkdtemp(path.join(tmpdir(), "cicd-two-process-"));
    const root = path.join(work, "servicefs");
    // One publishes like a builder; the other appends and marks every second build bad like a runner.
    const builder = start([root, "hello", "publish", "a", "200"]);
    const runner = start([root, "hello", "append-mark", "b", "200"]);
    await Promise.all([builder.ready, runner.ready]);
    builder.child.stdin!.write("go\n");
    runner.child.stdin!.write("go\n");
    expect(await Promise.all([builder.done, runner.done])).toEqual([0, 0]);

    const dir = path.join(root, "hello");
    const doc = JSON.parse(await readFile(path.join(dir, BUILDS_FILE), "utf8")) as BuildsDocument;
    expect(doc.target).toBe("hello");
    expect(doc.builds).toHaveLength(400);
    const keys = doc.builds.map((b) => b.key);
    expect(new Set(keys).size).toBe(400);
    // Each process's builds are in the order it wrote them. (How much the two interleave depends
    // on scheduling; on a loaded machine one may finish first, so that is not asserted.)
    const ofA = keys.filter((k) => k.startsWith("a-"));
    const ofB = keys.filter((k) => k.startsWith("b-"));
    expect(ofA).toEqual(Array.from({ length: 200 }, (_, i) => `a-${i}`));
    expect(ofB).toEqual(Array.from({ length: 200 }, (_, i) => `b-${i}`));
    // Every mark landed on its build and nothing else.
    for (const b of doc.builds) {
      const i = Number(b.key.slice(2));
      const shouldBeBad = b.key.startsWith("b-") && i % 2 === 1;
      expect(b.status, b.key).toBe(shouldBeBad ? "bad" : "good");
      if (shouldBeBad) expect(b.exitCode).toBe(i);
    }
    // Every published artifact exists under its own name; no temp or lock file is left.
    const files = await readdir(dir);
    const artifacts = doc.builds.flatMap((b) => b.artifacts);
    expect(artifacts).toHaveLength(200);
    expect(new Set(artifacts).size).toBe(200);
    expect(files.sort()).toEqual([...artifacts, BUILDS_FILE].sort());
  });
});
