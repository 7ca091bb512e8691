import { execFile } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { SampleProject } from "./sample-project.js";
import { timed } from "./stats.js";

const run = promisify(execFile);
const floorScript = path.join(import.meta.dirname, "floor.sh");

export interface FloorOptions {
  project: SampleProject;
  image: string;
  /** Label of the floor's containers ("key=value"), so an interrupted run can remove them. */
  label: string;
  /** Folder the artifacts are copied into. */
  outDir: string;
  burst: number;
  concurrency: number;
}

/** One side of the comparison: single builds and a burst, each checked for its artifacts. */
export interface BenchSide {
  /** One build, trigger to artifact in place; milliseconds. */
  once(): Promise<number>;
  /** `burst` builds started at once, until the last artifact is in place; milliseconds. */
  burst(): Promise<number>;
  /** The recorded timings (`meta.timings`) of the builds so far, when the side records them. */
  timings?(): Record<string, number>[];
  close(): Promise<void>;
}

/**
 * The floor: bench/floor.sh (git clone + docker run --rm + copy the artifact); a burst runs it
 * through `xargs -P concurrency`. Every run must leave its artifact in `outDir`; a missing one
 * fails the benchmark.
 */
export function startFloor(o: FloorOptions): BenchSide {
  mkdirSync(o.outDir, { recursive: true });
  const args = [o.project.url, o.outDir, o.image, o.label, ...o.project.commands];
  let expected = 0;
  const check = (added: number) => {
    expected += added;
    const jars = readdirSync(o.outDir).filter((f) => f.endsWith(".jar")).length;
    if (jars !== expected) throw new Error(`floor: expected ${expected} artifacts in ${o.outDir}, found ${jars}`);
  };
  // xargs starts at most `concurrency` floor.sh at a time, like cicd's concurrency setting.
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return {
    once: async () => {
      const { ms } = await timed(() => run("bash", [floorScript, ...args], { maxBuffer: 16 * 1024 * 1024 }));
      check(1);
      return ms;
    },
    burst: async () => {
      const { ms } = await timed(() =>
        run("bash", ["-c", `seq 1 ${o.burst} | xargs -P ${o.concurrency} -I{} bash '${floorScript}' ${quoted}`], { maxBuffer: 16 * 1024 * 1024 }),
      );
      check(o.burst);
      return ms;
    },
    close: async () => undefined,
  };
}
