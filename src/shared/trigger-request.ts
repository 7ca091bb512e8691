import type { TriggerKind } from "./api/builds.js";

/** What asks for a build: the REST API, a webhook handler, a re-run. */
export interface TriggerRequest {
  target: string;
  ref?: string;
  sha?: string;
  trigger: TriggerKind;
  /** Deduplication: the same target + sha (or ref) + delivery id is never queued twice. */
  deliveryId?: string;
  /**
   * Deduplication of replays: what the event asked for, whatever its delivery id (push:
   * repository, ref and commit; pull request: repository, number and head sha). A build of the
   * same target with the same key queued within the store's replay window is returned as a
   * duplicate. Only webhooks set it: a person asking again (REST, `/build`, re-run) means it.
   */
  replayKey?: string;
  repository?: string;
  installationId?: number;
  pullRequest?: number;
  untrusted?: boolean;
  meta?: Record<string, unknown>;
}
