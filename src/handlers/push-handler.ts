import type { Context } from "probot";
import type { HandlerDeps } from "./handler-deps.js";
import { pushTargets } from "./match-targets.js";
import { queueBuilds } from "./queue-builds.js";

const skipMarker = /\[(skip ci|ci skip|no ci|skip cicd|cicd skip)\]/i;

/**
 * push: builds the pushed commit for every target of the repository that follows the branch
 * (or tags). Deleted branches and commits marked `[skip ci]` build nothing.
 */
export function pushHandler(deps: HandlerDeps) {
  return async (context: Context<"push">): Promise<void> => {
    const p = context.payload;
    if (p.deleted || /^0+$/.test(p.after)) return;
    if (skipMarker.test(p.head_commit?.message ?? "")) {
      deps.logger.info("Push marked [skip ci]; not building", { repository: p.repository.full_name, sha: p.after });
      return;
    }
    const targets = pushTargets(deps.config, p.repository.full_name, p.ref, p.repository.default_branch);
    await queueBuilds(
      deps,
      targets.map((t) => ({
        target: t.name,
        ref: p.ref,
        sha: p.after,
        trigger: "push" as const,
        deliveryId: context.id,
        repository: p.repository.full_name,
        installationId: p.installation?.id,
      })),
    );
  };
}
