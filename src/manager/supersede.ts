import type { Build } from "./types.js";

export type SupersedeMode = boolean | "running";

/** What a new build takes the place of: queued builds to cancel, running ones to stop. */
export interface Superseded {
  queued: string[];
  running: string[];
}

/**
 * The builds of the same target that `newer` makes pointless (the target's `supersede`):
 *  - a branch's queued builds, when the branch is built again (never tags);
 *  - with `running`, also a running build of another commit of that branch;
 *  - a pull request's queued builds of an older head, when a new head is built.
 * Never across branches or pull requests, and never for a REST build that names a commit: a
 * person asked for exactly that commit, so it neither takes another's place nor loses its own.
 */
export function supersededBy(newer: Build, active: Build[], mode: SupersedeMode): Superseded {
  const none = { queued: [], running: [] };
  if (mode === false || pinned(newer)) return none;
  const branch = branchOf(newer.ref);
  const pull = newer.pullRequest;
  if (branch === undefined && pull === null) return none;
  const queued: string[] = [];
  const running: string[] = [];
  for (const old of active) {
    // Triggers that arrive together are committed together: a build never takes the place of a
    // newer one (a higher number) that happens to be queued already.
    if (old.key === newer.key || old.target !== newer.target || pinned(old) || old.number > newer.number) continue;
    if (pull !== null) {
      if (old.pullRequest === pull && old.status === "queued" && (old.sha ?? "") !== (newer.sha ?? "")) queued.push(old.key);
      continue;
    }
    if (old.pullRequest !== null || branchOf(old.ref) !== branch) continue;
    if (old.status === "queued") queued.push(old.key);
    else if (mode === "running" && old.status === "running" && (newer.sha === null || (old.commit ?? old.sha) !== newer.sha)) running.push(old.key);
  }
  return { queued, running };
}

/** A REST build of an exact commit. */
function pinned(build: Build): boolean {
  return build.trigger === "api" && build.sha !== null;
}

/** The branch a ref names (`refs/heads/main`, or `main` as REST callers write it); undefined for tags, pull requests and none. */
export function branchOf(ref: string | null): string | undefined {
  if (!ref) return undefined;
  const heads = /^refs\/heads\/(.+)$/.exec(ref);
  if (heads) return heads[1];
  return ref.startsWith("refs/") || ref === "HEAD" ? undefined : ref;
}
