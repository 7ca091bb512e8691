import type { Context } from "probot";
import type { Build, TriggerRequest } from "../manager/types.js";
import { deployAction } from "./deploy-action.js";
import type { HandlerDeps } from "./handler-deps.js";
import { checkRunTarget, targetsOf } from "./match-targets.js";
import { queueBuilds } from "./queue-builds.js";

type RerunContext = Context<"check_run.rerequested" | "check_run.requested_action" | "check_suite.rerequested">;

interface SuiteInfo {
  head_sha: string;
  head_branch?: string | null;
  pull_requests: { number: number; head: { repo: { id: number } }; base: { repo: { id: number } } }[];
}

/**
 * Re-runs from the checks UI: check_run rerequested, its "Rebuild" button (requested_action
 * `rebuild`; the "Deploy" button goes to deploy-action.ts) and check_suite rerequested queue a
 * new build (trigger "rerun") of the same target and commit. The new build copies ref, pull
 * request and trust from the build it repeats; when that build is unknown (e.g. a new database)
 * it is rebuilt from the payload, untrusted unless the payload shows a pull request inside the
 * repository.
 */
export function rerunHandler(deps: HandlerDeps) {
  return async (context: RerunContext): Promise<void> => {
    const p = context.payload;
    const repository = p.repository.full_name;
    let wanted: { target: string; original?: Build }[];
    let suite: SuiteInfo;
    if ("check_run" in p) {
      if (p.action === "requested_action") {
        const id = p.requested_action?.identifier;
        if (id === "deploy") return deployAction(deps, context as Context<"check_run.requested_action">);
        if (id !== "rebuild") return;
      }
      const target = checkRunTarget(deps.config, repository, p.check_run.name);
      if (!target) return;
      const byKey = p.check_run.external_id ? deps.service.get(p.check_run.external_id) : undefined;
      const original = byKey?.target === target ? byKey : latestFor(deps, target, p.check_run.head_sha);
      wanted = [{ target, original }];
      suite = { ...p.check_run.check_suite, head_sha: p.check_run.head_sha, pull_requests: p.check_run.pull_requests };
    } else {
      suite = p.check_suite;
      const built = targetsOf(deps.config, repository).map((t) => ({ target: t.name, original: latestFor(deps, t.name, suite.head_sha) }));
      // The suite holds the check runs of the targets that built this commit; with no record, all.
      wanted = built.some((w) => w.original) ? built.filter((w) => w.original) : built;
    }
    await queueBuilds(deps, wanted.map((w) => rerunRequest(w.target, w.original, suite, repository, p.installation?.id, context.id)));
  };
}

function latestFor(deps: HandlerDeps, target: string, sha: string): Build | undefined {
  return deps.service
    .list({ target, limit: 200 })
    .filter((b) => (b.sha ?? b.commit) === sha)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

function rerunRequest(target: string, original: Build | undefined, suite: SuiteInfo, repository: string, installationId: number | undefined, deliveryId: string): TriggerRequest {
  const common = { target, sha: suite.head_sha, trigger: "rerun" as const, deliveryId, repository, installationId };
  if (original) {
    return { ...common, ref: original.ref ?? undefined, pullRequest: original.pullRequest ?? undefined, untrusted: original.untrusted };
  }
  const pr = suite.pull_requests[0];
  if (pr) return { ...common, ref: `refs/pull/${pr.number}/head`, pullRequest: pr.number, untrusted: pr.head.repo.id !== pr.base.repo.id };
  return { ...common, ref: suite.head_branch ? `refs/heads/${suite.head_branch}` : undefined, untrusted: true };
}
