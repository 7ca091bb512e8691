import { errorMessage } from "../shared/errors.js";
import { endedAs } from "../shared/outcome.js";
import type { WorkloadHandle } from "../executor/types.js";
import type { BuildPatch } from "../store/build-store.js";
import { findPublished } from "./publish-build.js";
import type { DispatchDeps } from "./dispatch-build.js";
import type { Build } from "./types.js";

export interface Resumed {
  build: Build;
  builderId: string;
  handle: WorkloadHandle;
}

/**
 * After a restart: every build the store says is running is looked up by its workload.
 * Still running → re-attached (returned, to be followed). Gone → if builds.json shows it was
 * published it succeeded; otherwise it goes back to the queue (reason says it was interrupted)
 * while attempts remain, and ends as `error` after that. Builds that were being dispatched
 * (queued, builder assigned) lose their half-started builder and stay queued. Builder workloads
 * no build claims are removed.
 */
export async function recover(
  deps: DispatchDeps & { maxAttempts: number; requeue: (key: string, patch: BuildPatch) => void },
): Promise<Resumed[]> {
  const { store, executor, logger } = deps;
  const found = await executor.find().catch((error: unknown) => {
    logger.warn("could not list workloads", { error: errorMessage(error) });
    return [];
  });
  const byId = new Map(found.map((w) => [w.id, w]));
  const claimed = new Set<string>();
  const resumed: Resumed[] = [];
  for (const build of store.running()) {
    const { builderId, tokenHash } = store.builderOf(build.key);
    if (!builderId) continue;
    const workload = byId.get(builderId);
    if (build.status === "running" && workload?.running && tokenHash) {
      const handle = await executor.attach(builderId);
      if (handle) {
        deps.callbacks.register(builderId, tokenHash, build.key);
        claimed.add(builderId);
        resumed.push({ build, builderId, handle });
        logger.info("re-attached to running build", { key: build.key });
        continue;
      }
    }
    const published = await findPublished(deps, build);
    if (published) {
      deps.change(build.key, published);
      continue;
    }
    const reason = "interrupted: the manager stopped while the build ran";
    deps.logs.note(build.key, reason);
    if (build.attempts < deps.maxAttempts) {
      deps.requeue(build.key, { reason: `${reason}; retrying (attempt ${build.attempts + 1} of ${deps.maxAttempts})` });
    } else {
      deps.change(build.key, { ...endedAs("executor_failed"), reason: `${reason}; gave up after ${build.attempts} attempts` });
    }
  }
  // Every builder not followed now is removed: half-started ones of queued builds, those of
  // builds decided above, and warm ones waiting for a build.
  for (const w of found) {
    if (w.role === "builder" && !claimed.has(w.id)) await (await executor.attach(w.id))?.destroy().catch(() => undefined);
  }
  return resumed;
}
