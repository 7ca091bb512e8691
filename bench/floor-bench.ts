import { execFile } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { SampleProject } from "./sample-project.js";
import { sleep, timed } from "./stats.js";

const run = promisify(execFile);
const floorScript = path.join(import.meta.dirname, "floor.sh");

export interface FloorOptions {
  project: SampleProject;
  image: string;
  /** Label of the floor's containers ("key=value"), so an interrupted run can remove them. */
  label: string;
  /** Folder the artifacts are copied into. */
  outDir: string;
  n: number;
  burst: number;
  concurrency: number;
  /** Idle time before each sequential build. */
  gapMs: number;
}

export interface FloorResult {
  singleMs: number[];
  burstMs: number;
}

/**
 * The floor: bench/floor.sh (git clone + docker run --rm + copy the artifact), once as a
 * warm-up, `n` times one after the other, then `burst` runs through `xargs -P concurrency`.
 * Every run must leave its artifact in `outDir`; a missing one fails the benchmark.
 */
export async function runFloor(o: FloorOptions): Promise<FloorResult> {
  mkdirSync(o.outDir, { recursive: true });
  const args = [o.project.url, o.outDir, o.image, o.label, ...o.project.commands];
  const once = () => run("bash", [floorScript, ...args], { maxBuffer: 16 * 1024 * 1024 });
  let expected = 0;
  const check = () => {
    const jars = readdirSync(o.outDir).filter((f) => f.endsWith(".jar")).length;
    if (jars !== expected) throw new Error(`floor: expected ${expected} artifacts in ${o.outDir}, found ${jars}`);
  };

  await once();
  expected += 1;
  check();
  const singleMs: number[] = [];
  for (let i = 0; i < o.n; i++) {
    await sleep(o.gapMs);
    singleMs.push((await timed(once)).ms);
    expected += 1;
    check();
  }

  await sleep(o.gapMs);
  // xargs starts at most `concurrency` floor.sh at a time, like cicd's concurrency setting.
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const burst = await timed(() =>
    run("bash", ["-c", `seq 1 ${o.burst} | xargs -P ${o.concurrency} -I{} bash '${floorScript}' ${quoted}`], { maxBuffer: 16 * 1024 * 1024 }),
  );
  expected += o.burst;
  check();
  return { singleMs, burstMs: burst.ms };
}
