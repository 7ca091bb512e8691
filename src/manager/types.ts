/**
 * The manager's public surface, used by the REST API, the GitHub handlers and the CLI.
 * Nothing outside manager/ reaches into the queue or the store directly.
 */
import type { BuildRecord } from "../servicefs/builds-file.js";
import type { Build, BuildListQuery, BuildStatus } from "../shared/api/builds.js";
import type { TriggerRequest } from "../shared/trigger-request.js";

export { FINAL_STATUSES, type Build, type BuildStatus, type TriggerKind } from "../shared/api/builds.js";
export type { TriggerRequest } from "../shared/trigger-request.js";
/** Which builds to list (newest first): a target, a status, how many. */
export type BuildFilter = BuildListQuery;

/** Emitted on every status change of a build (after the store has it). */
export interface BuildEvent {
  build: Build;
  previous: BuildStatus | null;
}

export interface BuildService {
  /**
   * Durably queues a build (written to SQLite before this resolves) and returns it. With a
   * `deliveryId` seen before for the same target and commit, returns the existing build and
   * `duplicate: true` instead.
   */
  trigger(request: TriggerRequest): Promise<{ build: Build; duplicate: boolean }>;
  get(key: string): Build | undefined;
  list(filter?: BuildFilter): Build[];
  /** Cancels a queued or running build. Throws CONFLICT for a finished one, NOT_FOUND for none. */
  cancel(key: string): Promise<Build>;
  /** Merges `patch` into the build's meta (e.g. check run id). */
  setMeta(key: string, patch: Record<string, unknown>): void;
  /**
   * The check-run outbox: GitHub confirmed a check-run update that carried `status` for build
   * `key` (kept durably, so a restart knows which check runs are behind).
   */
  markReported(key: string, status: BuildStatus): void;
  /**
   * Builds of a GitHub repository whose check run is missing or behind their status (never
   * confirmed by GitHub, or confirmed at an older status), oldest first: what the reporter
   * catches up on at start.
   */
  unreported(): Build[];
  /** Absolute path of the build's log file (may not exist yet). */
  logPath(key: string): string;
  /** Subscribes to status changes; returns an unsubscribe function. */
  onChange(listener: (event: BuildEvent) => void): () => void;
  /** Subscribes to masked log output of a build as it arrives. */
  onLog(key: string, listener: (chunk: string) => void): () => void;
}

/**
 * A hook the GitHub part gives the manager: the token to clone with for a build of a GitHub
 * repository (a fresh installation token), or undefined.
 */
export type CloneTokenProvider = (build: Build) => Promise<string | undefined>;

/** A build a runner marked bad in its target's builds.json (seen by the manager). */
export interface MarkedBadEvent {
  /** The build as stored, its meta already holding `markedBad` (see MarkedBadMeta). */
  build: Build;
  /** The builds.json entry: `reason`, `exitCode`, `signal`, `markedBadAt`. */
  record: BuildRecord;
}

/** What the manager keeps in `build.meta.markedBad` once it has seen a runner mark the build bad. */
export interface MarkedBadMeta {
  at: string;
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
}

/**
 * Runners seen from outside the manager (the GitHub part): builds turning bad, and deploying a
 * build to its target's runner.
 */
export interface Deployments {
  /**
   * Called once for each build of the store that a runner marks bad (a good → bad change in a
   * target's builds.json), after `meta.markedBad` is recorded. Returns an unsubscribe function.
   */
  onMarkedBad(listener: (event: MarkedBadEvent) => void): () => void;
  /**
   * Starts or moves the target's runner to `buildKey` (stopping its running runners). Throws
   * CicdError: NOT_FOUND for an unknown target, UNPROCESSABLE when the target has no run command
   * or the build is not good in builds.json.
   */
  deploy(target: string, buildKey: string): Promise<{ id: string; replaced: string[] }>;
}
