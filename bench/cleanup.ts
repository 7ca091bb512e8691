import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Container ids (running or not) carrying every label in `labels` ("key=value"). */
export async function containersWith(labels: string[]): Promise<string[]> {
  const filters = labels.flatMap((l) => ["--filter", `label=${l}`]);
  const { stdout } = await run("docker", ["ps", "-a", "-q", ...filters]);
  return stdout.split("\n").filter(Boolean);
}

/**
 * Everything one benchmark run started, undone in reverse order: child processes by PID,
 * containers by the labels the run gave them, temp folders. Each step runs even if another fails.
 */
export class Cleanup {
  private readonly steps: { what: string; undo: () => Promise<void> | void }[] = [];

  add(what: string, undo: () => Promise<void> | void): void {
    this.steps.push({ what, undo });
  }

  dir(dir: string): void {
    this.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  }

  /** Removes the containers that carry all of `labels` (only ever the run's own labels). */
  containers(labels: string[]): void {
    this.add(`remove containers ${labels.join(",")}`, async () => {
      const ids = await containersWith(labels);
      if (ids.length) await run("docker", ["rm", "-f", "-v", ...ids]);
    });
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.undo();
      } catch (error) {
        console.error(`bench: cleanup failed: ${step.what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
