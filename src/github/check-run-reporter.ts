import { FINAL_STATUSES, type Build, type BuildService } from "../manager/types.js";
import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { ANNOTATIONS_PER_REQUEST, annotationsRequest, checkRunOutput, checkRunRequest, logUrl } from "./check-run-request.js";
import { checkRunState, type CheckRunState } from "./check-run-state.js";
import type { GitHubClient } from "./create-app-probot.js";
import { defaultRetryOptions, githubRetryDelay, type RetryOptions } from "./github-retry-delay.js";
import { InstallationLanes, type LaneOutcome } from "./installation-lanes.js";
import { splitRepository } from "./repository-actions.js";
import { Sleeper } from "./sleeper.js";

export interface CheckRunReporterOptions {
  service: Pick<BuildService, "get" | "setMeta" | "logPath">;
  /** A client authenticated as the installation (Probot's `auth(installationId)`). */
  auth: (installationId: number) => Promise<GitHubClient>;
  publicUrl?: string;
  logger: Logger;
  retry?: Partial<RetryOptions>;
  /**
   * Builds whose check run is behind at most (oldest dropped beyond this; default 10,000, about
   * 1 KB each). A dropped build gets its check run with its next status change.
   */
  maxTracked?: number;
  /** Whether a successful build of this target gets a "Deploy" button (its target has a runner). */
  deployable?: (build: Build) => boolean;
}

interface Entry {
  build: Build;
  /** Bumped on every reported change; `sent` is the version GitHub has. */
  version: number;
  sent: number;
  checkRunId?: number;
  htmlUrl?: string;
  state?: { version: number; value: CheckRunState; annotationsSent: number };
  /** GitHub refused the details (422): send the bare state only. */
  minimal: boolean;
  /** The build's meta was checked for a check run created earlier (done once, when its turn comes). */
  lookedUp: boolean;
  /** Bumped by refresh(): the output (summary, buttons) changed but not the status. */
  notes: number;
  notesSent: number;
}

/**
 * Mirrors builds as check runs `cicd/<target>` (external_id = build key): queued → in_progress →
 * completed. Requests go one at a time per installation (installation-lanes.ts), builds that
 * started or ended before builds still queued, and each request carries the build's newest
 * state: a burst of pushes costs one small entry per build until its turn, and a build that
 * moved on meanwhile skips the states GitHub no longer needs. When GitHub fails (network, 5xx,
 * rate limit) the lane waits with back-off and then brings the check run straight up to date.
 * Reporting never throws into the caller and never touches the build itself. Only builds with
 * `repository` and `installationId` are reported; a build without a commit yet gets its check
 * run once an event carries the commit.
 */
export class CheckRunReporter {
  private readonly entries = new Map<string, Entry>();
  private readonly sleeper = new Sleeper();
  private readonly waiters = new Map<string, Set<(url: string | undefined) => void>>();
  private readonly retry: RetryOptions;
  private readonly lanes: InstallationLanes<Entry>;
  private closed = false;

  constructor(private readonly options: CheckRunReporterOptions) {
    this.retry = { ...defaultRetryOptions, ...options.retry };
    this.lanes = new InstallationLanes((entry, failures) => this.serve(entry, failures), this.sleeper, () => this.closed);
  }

  /** Takes the newest state of a build (call on every status change); returns at once. */
  report(build: Build): void {
    if (this.closed || !build.repository || !build.installationId) return;
    const entry = this.entries.get(build.key) ?? this.newEntry(build, undefined);
    entry.build = build;
    entry.version++;
    this.wake(entry);
  }

  /**
   * Takes a change of what a finished build's check run says without a change of status (marked
   * bad by a runner, a deploy's outcome, both from `build.meta`): only the output and buttons
   * are sent, with the same retries as any update. Does nothing for a build without a check run.
   */
  refresh(build: Build): void {
    if (this.closed || !build.repository || !build.installationId) return;
    let entry = this.entries.get(build.key);
    if (!entry) {
      const known = this.knownCheckRunId(build);
      if (known === undefined) return;
      entry = this.newEntry(build, known);
    }
    entry.build = build;
    entry.notes++;
    this.wake(entry);
  }

  /** The check run's html_url, waiting up to `waitMs` for it to be created. */
  async checkRunUrl(key: string, waitMs = 0): Promise<string | undefined> {
    const known = this.entries.get(key)?.htmlUrl ?? this.options.service.get(key)?.meta.checkRunUrl;
    if (typeof known === "string") return known;
    if (waitMs <= 0 || this.closed) return undefined;
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const done = (url: string | undefined) => {
        clearTimeout(timer);
        set.delete(done);
        if (!set.size) this.waiters.delete(key);
        resolve(url);
      };
      const timer = setTimeout(() => done(undefined), waitMs);
      set.add(done);
    });
  }

  /** Resolves when no check run update is in flight or waiting. */
  idle(): Promise<void> {
    return this.lanes.idle();
  }

  /** Stops retrying; updates still pending are dropped (the builds themselves are unaffected). */
  async close(): Promise<void> {
    this.closed = true;
    this.sleeper.wakeAll();
    for (const set of this.waiters.values()) for (const done of set) done(undefined);
    await this.lanes.idle();
  }

  /** The check run an earlier entry (or another process) created for this build, from its meta. */
  private knownCheckRunId(build: Build): number | undefined {
    const known = build.meta.checkRunId ?? this.options.service.get(build.key)?.meta.checkRunId;
    return typeof known === "number" ? known : undefined;
  }

  private newEntry(build: Build, checkRunId: number | undefined): Entry {
    const entry: Entry = { build, version: 0, sent: 0, notes: 0, notesSent: 0, minimal: false, lookedUp: checkRunId !== undefined, checkRunId };
    this.entries.set(build.key, entry);
    this.evictOldest();
    return entry;
  }

  private wake(entry: Entry): void {
    // A build that started or ended goes before builds that only wait in the queue.
    this.lanes.add(entry.build.installationId!, entry, entry.build.status !== "queued" || entry.notes !== entry.notesSent);
  }

  /** One request that brings the build's check run closer to its newest state, or the verdict that none is needed. */
  private async serve(entry: Entry, failures: number): Promise<LaneOutcome> {
    const key = entry.build.key;
    if (this.entries.get(key) !== entry) return "done"; // dropped (too many pending)
    const headSha = entry.build.sha ?? entry.build.commit;
    if (!headSha) {
      // A later event brings the commit; a build that ended without one never gets a check run.
      if (FINAL_STATUSES.includes(entry.build.status)) this.entries.delete(key);
      return "done";
    }
    if (this.upToDate(entry)) {
      // The id and url live on in the build's meta, so a later event can pick them up.
      this.entries.delete(key);
      return "done";
    }
    if (!entry.lookedUp) {
      // Created by an earlier entry of this build (or before a restart): update it, never create another.
      entry.lookedUp = true;
      entry.checkRunId ??= this.knownCheckRunId(entry.build);
    }
    try {
      await this.step(entry, headSha);
      return "again";
    } catch (error) {
      if (this.entries.get(key) !== entry) return "done";
      const status = (error as { status?: number }).status;
      if (status === 404 && entry.checkRunId) {
        this.options.logger.warn("Check run vanished on GitHub; creating a new one", { build: key });
        entry.checkRunId = undefined;
        entry.sent = 0;
        return "again";
      }
      if (status === 422 && !entry.minimal) {
        this.options.logger.warn("GitHub refused the check run details; sending the bare state", { build: key, error: errorMessage(error) });
        entry.minimal = true;
        return "again";
      }
      const delay = githubRetryDelay(error, failures, this.retry);
      if (delay === undefined) {
        this.options.logger.error("GitHub refused the check run update; giving up on it", { build: key, status, error: errorMessage(error) });
        this.entries.delete(key);
        return "done";
      }
      this.options.logger.warn("Could not update the check run on GitHub; will retry", {
        build: key, status, error: errorMessage(error), retryInMs: Math.round(delay),
      });
      return { waitMs: delay };
    }
  }

  private upToDate(entry: Entry): boolean {
    return this.statusUpToDate(entry) && entry.notesSent === entry.notes;
  }

  private statusUpToDate(entry: Entry): boolean {
    if (entry.sent !== entry.version) return false;
    const s = entry.state;
    return !s || entry.minimal || s.annotationsSent >= s.value.annotations.length;
  }

  /** Sends one request that moves the check run closer to the newest state. */
  private async step(entry: Entry, headSha: string): Promise<void> {
    if (this.statusUpToDate(entry)) return this.sendNotes(entry);
    // Reading the log takes a moment; a change meanwhile means computing the newer state instead.
    while (entry.state?.version !== entry.version) {
      const { build, version } = entry;
      entry.state = { version, value: await this.stateOf(build), annotationsSent: 0 };
    }
    const { build, version } = entry;
    const state = entry.state;
    const { owner, repo } = splitRepository(build.repository!);
    const octokit = await this.options.auth(build.installationId!);
    const request = { retries: 0 }; // this loop retries, with the newest state
    const chunk = entry.minimal ? [] : state.value.annotations.slice(state.annotationsSent, state.annotationsSent + ANNOTATIONS_PER_REQUEST);

    if (entry.sent === version && entry.checkRunId) {
      await octokit.rest.checks.update({ owner, repo, check_run_id: entry.checkRunId, ...annotationsRequest(state.value, chunk), request });
      state.annotationsSent += chunk.length;
      return;
    }
    const detailsUrl = this.options.publicUrl ? logUrl(this.options.publicUrl, build.key) : undefined;
    const body = checkRunRequest(state.value, { annotations: chunk, minimal: entry.minimal, detailsUrl });
    if (entry.checkRunId) {
      await octokit.rest.checks.update({ owner, repo, check_run_id: entry.checkRunId, ...body, request });
    } else {
      const { data } = await octokit.rest.checks.create({
        owner, repo, name: `cicd/${build.target}`, head_sha: headSha, external_id: build.key, ...body, request,
      });
      entry.checkRunId = data.id;
      entry.htmlUrl = data.html_url ?? undefined;
      try {
        this.options.service.setMeta(build.key, { checkRunId: data.id, ...(data.html_url ? { checkRunUrl: data.html_url } : {}) });
      } catch (error) {
        this.options.logger.warn("Could not record the check run id with the build", { build: build.key, error: errorMessage(error) });
      }
      for (const done of this.waiters.get(build.key) ?? []) done(entry.htmlUrl);
    }
    entry.sent = version;
    state.annotationsSent = chunk.length;
  }

  private stateOf(build: Build): Promise<CheckRunState> {
    return checkRunState(build, this.options.service.logPath(build.key), { deployable: this.options.deployable?.(build) ?? false });
  }

  /**
   * Output and buttons only (no status, no annotations: GitHub appends annotations, so sending
   * them again would list them twice).
   */
  private async sendNotes(entry: Entry): Promise<void> {
    const notes = entry.notes;
    const { build } = entry;
    if (!entry.checkRunId) {
      this.options.logger.warn("No check run to update with the build's news; dropped", { build: build.key });
      entry.notesSent = notes;
      return;
    }
    const value = await this.stateOf(build);
    const { owner, repo } = splitRepository(build.repository!);
    const octokit = await this.options.auth(build.installationId!);
    await octokit.rest.checks.update({ owner, repo, check_run_id: entry.checkRunId, ...checkRunOutput(value, { minimal: entry.minimal }), request: { retries: 0 } });
    entry.notesSent = notes;
  }

  private evictOldest(): void {
    const max = this.options.maxTracked ?? 10_000;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= max) return;
      this.entries.delete(key);
      this.lanes.remove(entry.build.installationId!, entry);
      this.options.logger.warn("Too many check runs waiting for GitHub; dropped the oldest pending update", { build: key });
    }
  }
}

