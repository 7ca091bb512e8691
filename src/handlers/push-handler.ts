import type { Context } from "probot";
import type { TriggerRequest } from "../manager/types.js";
import type { HandlerDeps } from "./handler-deps.js";
import { pushTargets } from "./match-targets.js";

export type PushPayload = Context<"push">["payload"];

const skipMarker = /\[(skip ci|ci skip|no ci|skip cicd|cicd skip)\]/i;

/**
 * The builds a push asks for: the pushed commit for every target of the repository that follows
 * the branch (or tags). Deleted branches and commits marked `[skip ci]` build nothing. Shared by
 * the Probot handler and the direct webhook path (direct-events.ts), so both decide alike.
 * Each request carries the push's replay key: the same push re-sent under another delivery id
 * queues nothing (src/store/build-store.ts, REPLAY_WINDOW_MS).
 */
export function pushRequests(deps: Pick<HandlerDeps, "config" | "logger">, p: PushPayload, deliveryId: string): TriggerRequest[] {
  if (p.deleted || /^0+$/.test(p.after)) return [];
  if (skipMarker.test(p.head_commit?.message ?? "")) {
    deps.logger.info("Push marked [skip ci]; not building", { repository: p.repository.full_name, sha: p.after });
    return [];
  }
  return pushTargets(deps.config, p.repository.full_name, p.ref, p.repository.default_branch).map((t) => ({
    target: t.name,
    ref: p.ref,
    sha: p.after,
    trigger: "push" as const,
    deliveryId,
    replayKey: pushReplayKey(p),
    repository: p.repository.full_name,
    installationId: p.installation?.id,
  }));
}

/** What a push asks for, whatever its delivery id: repository, ref and commit. */
export function pushReplayKey(p: PushPayload): string {
  return `push ${p.repository.full_name.toLowerCase()} ${p.ref} ${p.after.toLowerCase()}`;
}
