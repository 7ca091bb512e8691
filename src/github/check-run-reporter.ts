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
  /** Told of every request GitHub failed (metrics: `cicd_github_api_errors_total`). */
  onApiError?: (kind: string) => void;
  service: Pick<BuildService, "get" | "setMeta" | "logPath" | "markReported" | "unreported">;
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
  /**
   * A check run for this build may exist at GitHub without its id being known here: one created
   * by an earlier process that died before storing the id, or a create whose answer was lost
   * (timeout, 5xx). It is looked up before any create, so no commit gets two for one build.
   */
  mayExist: boolean;
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
 *
 * What GitHub confirmed is kept durably (`service.markReported`, the check-run outbox): after a
 * crash, `reconcile()` brings every check run that is missing or behind its build up to date,
 * finding a check run the dead process created but had not recorded instead of creating another.
 */
export class CheckRunReporter {
  private readonly entries = new Map<string, Entry>();
  private readonly sleeper = new Sleeper();
  private readonly waiters = new Map<string, Set<(url: string | undefined) => void>>();
  private readonly retry: RetryOptions;
  private readonly lanes: InstallationLanes<Entry>;
  /** Builds created before this moment may have a check run an earlier process created. */
  private readonly startedAt = Date.now();
  private closed = false;

  constructor(private readonly options: CheckRunReporterOptions) {
    this.retry = { ...defaultRetryOptions, ...options.retry };
    this.lanes = new InstallationLanes((entry, failures) => this.serve(entry, failures), this.sleeper, () => this.closed);
  }

  /**
   * Catches up after a restart: every build whose check run GitHub has not confirmed at its
   * current status (per the outbox) is reported again, through the same lanes and retries as
   * any update. Returns how many. Call once at start; it returns at once.
   */
  reconcile(): number {
    if (this.closed) return 0;
    let builds: Build[];
    try {
      builds = this.options.service.unreported();
    } catch (error) {
      this.options.logger.error("Could not read which check runs are behind; they catch up with their next change", { error: errorMessage(error) });
      return 0;
    }
    for (const build of builds) {
      if (this.entries.has(build.key)) continue; // already being reported with a newer state
      this.report(build);
      const entry = this.entries.get(build.key);
      if (entry && entry.checkRunId === undefined) entry.mayExist = true;
    }
    if (builds.length) this.options.logger.info(`Bringing ${builds.length} check run(s) up to date after a restart`);
    return builds.length;
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
    const entry: Entry = {
      build, version: 0, sent: 0, notes: 0, notesSent: 0, minimal: false, lookedUp: checkRunId !== undefined, checkRunId,
      mayExist: checkRunId === undefined && Date.parse(build.createdAt) < this.startedAt,
    };
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
      // A later event brings the commit; a build that ended without one never gets a check run
      // (nothing is left to report: its outbox entry is closed, or every start would retry it).
      if (FINAL_STATUSES.includes(entry.build.status)) {
        this.entries.delete(key);
        this.closeOutbox(key, entry.build.status);
      }
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
    const creating = entry.checkRunId === undefined;
    try {
      await this.step(entry, headSha);
      return "again";
    } catch (error) {
      this.options.onApiError?.("check_run");
      const status = (error as { status?: number }).status;
      // A create that timed out or met a 5xx may have been done all the same.
      if (creating && (status === undefined || status >= 500)) entry.mayExist = true;
      if (this.entries.get(key) !== entry) return "done";
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
        // Retrying cannot help (missing permission, unknown commit), nor can it after a restart.
        this.options.logger.error("GitHub refused the check run update; giving up on it", { build: key, status, error: errorMessage(error) });
        this.entries.delete(key);
        this.closeOutbox(key, entry.build.status);
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
    if (!entry.checkRunId && entry.mayExist) return this.lookUp(entry, octokit, headSha);
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
      entry.mayExist = false;
      this.recordCheckRun(build.key, data.id, data.html_url);
    }
    entry.sent = version;
    state.annotationsSent = chunk.length;
    this.closeOutbox(build.key, build.status);
  }

  /**
   * Finds the check run an earlier process (or a create whose answer was lost) made for this
   * build: same commit, name `cicd/<target>`, external_id = the build key. Found → it is updated
   * from now on; not found → the next step creates one.
   */
  private async lookUp(entry: Entry, octokit: GitHubClient, headSha: string): Promise<void> {
    const { build } = entry;
    const { owner, repo } = splitRepository(build.repository!);
    const perPage = 100;
    // Every build of this target on this commit has a check run of this name (rebuilds too):
    // "all", not GitHub's default "latest", which shows only the newest of each name.
    for (let page = 1; page <= 10; page++) {
      const { data } = await octokit.rest.checks.listForRef({
        owner, repo, ref: headSha, check_name: `cicd/${build.target}`, filter: "all", per_page: perPage, page, request: { retries: 0 },
      });
      const found = data.check_runs.find((run) => run.external_id === build.key);
      if (found) {
        this.options.logger.info("Found the check run an earlier attempt created; updating it", { build: build.key, checkRunId: found.id });
        entry.checkRunId = found.id;
        entry.htmlUrl = found.html_url ?? undefined;
        entry.sent = 0; // its state is unknown: send the whole newest state
        this.recordCheckRun(build.key, found.id, found.html_url);
        break;
      }
      if (data.check_runs.length < perPage) break;
    }
    entry.mayExist = false;
  }

  private recordCheckRun(key: string, id: number, htmlUrl: string | null | undefined): void {
    try {
      this.options.service.setMeta(key, { checkRunId: id, ...(htmlUrl ? { checkRunUrl: htmlUrl } : {}) });
    } catch (error) {
      this.options.logger.warn("Could not record the check run id with the build", { build: key, error: errorMessage(error) });
    }
    for (const done of this.waiters.get(key) ?? []) done(htmlUrl ?? undefined);
  }

  /** Nothing more to send for `status` (GitHub has it, or never will): recorded in the outbox. */
  private closeOutbox(key: string, status: Build["status"]): void {
    try {
      this.options.service.markReported(key, status);
    } catch (error) {
      // The check run is right at GitHub; at worst the next start sends the same state again.
      this.options.logger.warn("Could not record that GitHub has the check run", { build: key, error: errorMessage(error) });
    }
  }

  private stateOf(build: Build): Promise<CheckRunState> {
    const publicUrl = this.options.publicUrl;
    return checkRunState(build, this.options.service.logPath(build.key), {
      deployable: this.options.deployable?.(build) ?? false,
      ...(publicUrl ? { buildUrl: (key: string) => logUrl(publicUrl, key) } : {}),
    });
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

