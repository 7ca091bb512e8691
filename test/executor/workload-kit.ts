import { randomBytes } from "node:crypto";
import type { Executor, WorkloadHandle, WorkloadSpec } from "../../src/executor/types.js";

/**
 * What executor tests do with workloads: specs with fresh ids (`<prefix><run>-<n>`, so a run's
 * leftovers can be found by name), starting them through `executor()` while remembering every
 * handle for the clean-up, and reading a workload's whole output.
 */
export function workloadKit(executor: () => Executor, image: string, prefix: string) {
  const runId = randomBytes(3).toString("hex");
  let seq = 0;
  const handles: WorkloadHandle[] = [];
  return {
    runId,
    handles,
    spec: (args: string[], extra: Partial<WorkloadSpec> = {}): WorkloadSpec =>
      ({ id: `${prefix}${runId}-${++seq}`, role: "builder", target: "hello", image, args, env: {}, mounts: [], ...extra }),
    async start(s: WorkloadSpec): Promise<WorkloadHandle> {
      const handle = await executor().start(s);
      handles.push(handle);
      return handle;
    },
    async collect(handle: WorkloadHandle): Promise<string> {
      let text = "";
      await handle.output((chunk) => (text += chunk));
      return text;
    },
  };
}
