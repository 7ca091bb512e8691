import { isOutcome } from "../shared/outcome.js";
import type { CommandResult } from "../shared/protocol.js";
import type { Build, BuildStatus, TriggerKind } from "../shared/api/builds.js";
import type { TriggerRequest } from "../shared/trigger-request.js";

/** A row of the builds table. */
export interface Row {
  key: string;
  seq: number;
  target: string;
  status: BuildStatus;
  ref: string | null;
  sha: string | null;
  commit_sha: string | null;
  trigger: TriggerKind;
  delivery_id: string | null;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  reason: string | null;
  artifacts: string;
  sizes: string;
  commands: string;
  repository: string | null;
  installation_id: number | null;
  pull_request: number | null;
  untrusted: number;
  meta: string;
  log_path: string | null;
  builder_id: string | null;
  builder_token_hash: string | null;
  replay_key: string | null;
  outcome: string | null;
  number: number | null;
}

/** A build to insert (queued); the other columns take their defaults. */
export interface NewBuild {
  key: string;
  target: string;
  ref: string | null;
  sha: string | null;
  trigger: TriggerKind;
  deliveryId: string | null;
  /** The event's content key (TriggerRequest.replayKey); absent or null for none. */
  replayKey?: string | null;
  repository: string | null;
  installationId: number | null;
  pullRequest: number | null;
  untrusted: boolean;
  meta: Record<string, unknown>;
  logPath: string;
  createdAt: string;
}

/**
 * The row to insert for a trigger: the request's fields, null where it gave none. `at` gives
 * what the store cannot know: the key, the log's path, the time, and the repository to fall
 * back on (the target's).
 */
export function newBuildFor(request: TriggerRequest, at: { key: string; logPath: string; createdAt: string; repository?: string | null }): NewBuild {
  return {
    key: at.key,
    target: request.target,
    ref: request.ref ?? null,
    sha: request.sha ?? null,
    trigger: request.trigger,
    deliveryId: request.deliveryId ?? null,
    replayKey: request.replayKey ?? null,
    repository: request.repository ?? at.repository ?? null,
    installationId: request.installationId ?? null,
    pullRequest: request.pullRequest ?? null,
    untrusted: request.untrusted ?? false,
    meta: { ...request.meta },
    logPath: at.logPath,
    createdAt: at.createdAt,
  };
}

/** The Build a freshly inserted row reads back as (the table's defaults for the rest). */
export function newBuildOf(b: NewBuild & { number?: number }, meta: string): Build {
  return {
    key: b.key,
    number: b.number ?? 0,
    target: b.target,
    status: "queued",
    ref: b.ref,
    sha: b.sha,
    commit: null,
    trigger: b.trigger,
    attempts: 0,
    createdAt: b.createdAt,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    reason: null,
    artifacts: [],
    sizes: {},
    commands: [],
    repository: b.repository,
    installationId: b.installationId,
    pullRequest: b.pullRequest,
    untrusted: b.untrusted,
    meta: JSON.parse(meta) as Record<string, unknown>,
    outcome: null,
  };
}

export function toBuild(row: Row): Build {
  return {
    key: row.key,
    number: row.number ?? 0,
    target: row.target,
    status: row.status,
    ref: row.ref,
    sha: row.sha,
    commit: row.commit_sha,
    trigger: row.trigger,
    attempts: row.attempts,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    exitCode: row.exit_code,
    reason: row.reason,
    artifacts: JSON.parse(row.artifacts) as string[],
    sizes: JSON.parse(row.sizes) as Record<string, number>,
    commands: JSON.parse(row.commands) as CommandResult[],
    repository: row.repository,
    installationId: row.installation_id,
    pullRequest: row.pull_request,
    untrusted: row.untrusted === 1,
    meta: JSON.parse(row.meta) as Record<string, unknown>,
    outcome: isOutcome(row.outcome) ? row.outcome : null,
  };
}
