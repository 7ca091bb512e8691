import type { BuildRecord, BuildsDocument } from "../servicefs/index.js";

/** Why a runner gave up on a build, as builds.json keeps it. */
export interface BadInfo {
  exitCode?: number | null;
  signal?: string | null;
  reason?: string;
}

/**
 * Tells subscribers when the list of builds may have changed. Subscribers read the list again
 * themselves (BuildSource.list), so a spurious call is fine and a missed one is not.
 */
export interface BuildsFeed {
  /** Calls `listener` on every possible change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  close(): void;
}

/**
 * Where a runner gets the builds of its one target: the service file system (`--dir`,
 * fs-build-source.ts) or a manager's REST API (`--api`, api-build-source.ts). BuildRunner
 * decides the same way whichever it is; everything that differs lives behind this interface.
 *
 * Errors: a source that cannot be reached right now (the API is down, answers 5xx) throws a
 * CicdError with code UNAVAILABLE from any method. That is never a verdict on a build: the runner
 * keeps what it runs and tries again later. Any other error of `fetchArtifact` is the build's
 * (its file is missing or does not match its record) and marks it bad.
 */
export interface BuildSource {
  /** What the source is, for messages and the state file: the folder, or the API and target. */
  readonly where: string;
  /** The target's builds as builds.json holds them, oldest first (empty when there are none yet). */
  list(): Promise<BuildsDocument>;
  /**
   * Absolute path of a local file holding artifact `name` of `build`, ready to run. ENOENT (or a
   * CicdError NOT_FOUND) when the artifact does not exist.
   */
  fetchArtifact(build: BuildRecord, name: string): Promise<string>;
  /** Records that `key` is bad, with why; false when the source no longer lists the build. */
  markBad(key: string, info: BadInfo): Promise<boolean>;
  /** Starts telling of changes, looking at least every `pollMs`; the caller closes it. */
  watch(pollMs: number): BuildsFeed;
  /** Lets go of what the source holds (last attempts to deliver what it still owes). */
  close?(): Promise<void>;
}
