import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(path.join(os.tmpdir(), "cicd-heap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const source = path.resolve(import.meta.dirname, "../../src/server/startup-heap.ts");

/**
 * A fresh Node process that allocates like a start-up (many small objects that stay alive),
 * optionally inside holdYoungGeneration, then the same again after releasing it; prints the
 * young generation's size (MB) before, and after each part.
 */
function youngGenerationMb(hold: boolean, nodeArgs: string[] = []): [number, number, number] {
  const script = path.join(dir, `probe-${hold}-${nodeArgs.length}.mts`);
  writeFileSync(
    script,
    `import { getHeapSpaceStatistics } from "node:v8";
import { holdYoungGeneration } from ${JSON.stringify(source)};
const release = ${hold} ? holdYoungGeneration() : () => undefined;
const kept: unknown[] = [];
const allocate = () => { for (let i = 0; i < 400_000; i++) kept.push({ i, name: "object " + i }); };
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_size / 1048576;
const before = young();
allocate();
const during = young();
release();
allocate();
console.log(JSON.stringify([before, during, young()]));
`,
  );
  const out = execFileSync(process.execPath, [...nodeArgs, "--import", "tsx", script], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
  return JSON.parse(out.trim().split("\n").at(-1)!) as [number, number, number];
}

describe("holdYoungGeneration", () => {
  it("keeps the young generation small while the server starts, and lets it grow again after", () => {
    const [start, held, released] = youngGenerationMb(true);
    const [freeStart, free] = youngGenerationMb(false);
    expect(held).toBe(start);
    expect(free).toBeGreaterThanOrEqual(4 * freeStart);
    expect(released).toBeGreaterThanOrEqual(4 * held);
  });

  it("leaves a growth factor the user chose alone", () => {
    const [start, held] = youngGenerationMb(true, ["--semi-space-growth-factor=2"]);
    expect(held).toBeGreaterThanOrEqual(4 * start);
  });
});
