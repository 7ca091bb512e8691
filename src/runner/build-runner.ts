import { formatDuration } from "../shared/duration.js";
import { CicdError, errorMessage, errors, isCicdError } from "../shared/errors.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { ProgramOutput } from "./program-output.js";
import { BuildProcess, describeExit, type ProcessExit } from "./build-process.js";
import type { BuildSource, BuildsFeed } from "./build-source.js";
import { FsBuildSource } from "./fs-build-source.js";
import { CrashLoop, type CrashLoopOptions } from "./crash-loop.js";
import { newerBuild, runnableBuilds, type Candidate } from "./pick-build.js";
import { StopRequest, waitFor, type Wake } from "./wait-for.js";
import { MAX_DECISIONS, RunnerStateWriter, type DecisionKind, type RunnerState } from "./runner-state.js";
import { assertCommandTemplate, renderCommand } from "./shell-command.js";

export interface BuildRunnerOptions extends CrashLoopOptions {
  /** The target folder: `builds.json` and the artifacts beside it (the same as `source: new FsBuildSource(dir)`). */
  dir?: string;
  /** Where the builds come from (`--dir` or `--api`); give this or `dir`, not both. */
  source?: BuildSource;
  /** Shell command with `{file}`, e.g. `java -jar {file}`; run with `sh -c`. */
  command: string;
  /** Run the first artifact matching this glob instead of the first artifact. */
  artifactPattern?: string;
  /**
   * Start with this build (if it is good) even when newer good builds exist: the builds listed
   * after it when the run starts are left out for the whole run. On failure it is marked bad and
   * older good builds follow as usual; with `watch`, builds published after the start still
   * take over (continuous deployment goes on).
   */
  pin?: string;
  /** Switch to a newer good build as soon as one appears (stopping the current one). */
  watch?: boolean;
  /** When no good build is left (or none exists yet), wait for one instead of exiting. */
  wait?: boolean;
  /** Time a build gets to exit after SIGTERM before SIGKILL (default 10 s). */
  graceMs?: number;
  /** Poll interval beside fs.watch (or of the API) for --watch and --wait (default 1 s). */
  pollMs?: number;
  /** Where to keep the state as JSON (see RunnerState). */
  stateFile?: string;
  /** Where to keep the programs' output (bounded: past 10 MB the file moves to `<file>.1`). */
  outputFile?: string;
  logger?: Logger;
  /** Environment of the builds (default: the runner's). */
  env?: NodeJS.ProcessEnv;
}

export interface RunnerResult {
  /** 0 after a clean exit of a build or a requested stop; 1 when no good build is left or on an error. */
  exitCode: number;
  error?: CicdError;
  tried: string[];
}

type Outcome = { kind: "exited"; exit: ProcessExit } | { kind: "stopped" } | { kind: "switched" };

/** The longest pause between tries while the source cannot be reached and nothing runs. */
const MAX_UNREACHABLE_DELAY_MS = 30_000;

/**
 * Runs the newest good build of a target and keeps the service up: a build that fails is marked
 * bad (in builds.json through BuildsFile, or through the API: see BuildSource) and the next older
 * good build starts. Every decision is logged and kept in the state. Use `run()` once; `stop()`
 * forwards a signal to the build and ends the run with 0.
 */
export class BuildRunner {
  readonly source: BuildSource;
  private readonly crash: CrashLoop;
  private readonly log: Logger;
  private readonly writer: RunnerStateWriter;
  private readonly output: ProgramOutput;
  private readonly state: RunnerState;
  private watcher: BuildsFeed | undefined;
  private process: BuildProcess | undefined;
  private readonly stopRequest = new StopRequest();
  /**
   * Builds this run never starts: failed (even if markBad could not write), unrunnable, or
   * listed after the pinned build when the run started (the deploy chose an older build).
   */
  private readonly excluded = new Set<string>();
  private fellBack = false;
  private started = false;
  private lastReadError = "";

  constructor(readonly options: BuildRunnerOptions) {
    assertCommandTemplate(options.command);
    if ((options.dir === undefined) === (options.source === undefined)) throw errors.invalidArgument("BuildRunner options", "either dir or source");
    this.source = options.source ?? new FsBuildSource(options.dir!);
    this.crash = new CrashLoop(options);
    this.log = options.logger ?? createLogger("runner");
    this.output = new ProgramOutput({ file: options.outputFile });
    this.writer = new RunnerStateWriter(options.stateFile, (e) => this.log.warn(`could not write the state file: ${errorMessage(e)}`));
    const now = new Date().toISOString();
    this.state = { pid: process.pid, dir: this.source.where, pin: options.pin ?? null, phase: "starting", startedAt: now, updatedAt: now, current: null, lastExit: null, tried: [], decisions: [], exitCode: null, error: null };
  }

  /** A copy of the current state (what --state-file holds). */
  get snapshot(): RunnerState {
    return structuredClone(this.state);
  }

  /** Asks the run to end: forwards `signal` to the build; a second call kills it at once. */
  stop(signal: NodeJS.Signals = "SIGTERM"): void {
    if (!this.stopRequest.request(signal)) this.process?.signal("SIGKILL");
  }

  async run(): Promise<RunnerResult> {
    if (this.started) throw errors.conflict("BuildRunner.run() was already called");
    this.started = true;
    const o = this.options;
    if (o.watch || o.wait) this.watcher = this.source.watch(o.pollMs ?? 1000);
    this.writer.write(this.state);
    let result: RunnerResult;
    try {
      result = await this.loop();
    } catch (error) {
      const e = error instanceof CicdError ? error : new CicdError("INTERNAL", errorMessage(error), {}, { cause: error });
      this.decide("error", `stopping: ${e.message}`);
      result = { exitCode: 1, error: e, tried: [...this.state.tried] };
    } finally {
      this.watcher?.close();
      await this.source.close?.().catch((error: unknown) => this.log.warn(errorMessage(error)));
    }
    Object.assign(this.state, { phase: "exited", current: null, exitCode: result.exitCode, error: result.error?.message ?? null });
    this.writer.write(this.state);
    await this.writer.flush();
    return result;
  }

  private async loop(): Promise<RunnerResult> {
    const pin = this.options.pin;
    if (pin !== undefined && (await this.untilReachable(() => this.applyPin(pin))) === false) return this.stopped();
    for (;;) {
      if (this.stopRequest.signal) return this.stopped();
      const next = await this.untilReachable(() => this.next());
      if (next === false) return this.stopped();
      if (!next) {
        const tried = this.state.tried;
        const what = tried.length ? `no good build left; tried ${tried.join(", ")}` : `no good build in ${this.state.dir}`;
        if (!this.options.wait) {
          // The decision is the one report of the end (cicd runner prints no second line): it
          // carries the catalogue's whole message.
          const error = errors.noGoodBuild(this.state.dir, tried);
          this.decide("no-good-build", error.message);
          return { exitCode: 1, error, tried: [...tried] };
        }
        this.setPhase("waiting", null);
        this.decide("wait", `${what}; waiting for a new good build`);
        await this.wait({ newerThan: null });
        continue;
      }
      if (this.fellBack) this.decide("fall-back", `falling back to ${next.build.key}`, next.build.key);
      this.fellBack = false;
      const outcome = await this.runOnce(next);
      if (outcome.kind === "stopped") return this.stopped();
      if (outcome.kind === "switched") continue;
      const { exit } = outcome;
      const key = next.build.key;
      if (exit.exitCode === 0 && !exit.signal) {
        this.decide("shutdown", `${key} exited without error; shutting down`, key);
        return { exitCode: 0, tried: [...this.state.tried] };
      }
      const verdict = this.crash.judge(key, exit);
      if (verdict.action === "mark-bad") {
        await this.markBad(key, verdict.reason, exit);
        continue;
      }
      const { maxCrashes, crashWindowMs } = this.crash.options;
      this.setPhase("backoff");
      this.decide("restart", `${key} crashed past its probation (${verdict.reason}); restarting in ${formatDuration(verdict.delayMs)} (crash ${verdict.crashes} of ${maxCrashes} within ${formatDuration(crashWindowMs)})`, key);
      await this.wait({ timeoutMs: verdict.delayMs, newerThan: this.options.watch ? key : undefined });
    }
  }

  /**
   * Leaves out the builds listed after `key` (they exist now; newer ones published later are
   * still candidates), so `key` is the newest the run considers. A key that is not listed is an
   * error: running some other build instead would not be what was asked for.
   */
  private async applyPin(key: string): Promise<void> {
    const doc = await this.source.list();
    const index = doc.builds.findIndex((b) => b.key === key);
    if (index < 0) throw errors.unprocessable(`Cannot pin build ${key}: it is not listed in ${this.source.where}.`, { key });
    const newer = doc.builds.slice(index + 1).map((b) => b.key);
    for (const k of newer) this.excluded.add(k);
    const named = newer.length > 5 ? `${newer.slice(0, 5).join(", ")}, …` : newer.join(", ");
    const left = newer.length ? `; leaving out ${newer.length} newer build(s) already listed (${named})` : "";
    if (doc.builds[index]!.status === "good") {
      this.decide("pin", `pinned to build ${key}${left}`, key);
    } else {
      this.fellBack = true;
      this.decide("pin", `pinned build ${key} is marked bad; falling back to older good builds${left}`, key);
    }
  }

  /**
   * Runs `step` until it does not throw UNAVAILABLE: a source that cannot be reached (the API is
   * down and nothing is cached to go on with) is no verdict on any build, so the runner neither
   * marks bad nor says "no good build"; it says so once and tries again, after 1 s, 2 s, 4 s …
   * (at most 30 s). False when a stop was requested meanwhile.
   */
  private async untilReachable<T>(step: () => Promise<T>): Promise<T | false> {
    let delay = Math.max(this.options.pollMs ?? 1000, 10);
    let said = "";
    for (;;) {
      try {
        return await step();
      } catch (error) {
        if (!isCicdError(error, "UNAVAILABLE")) throw error;
        if (error.message !== said) {
          this.setPhase("waiting", null);
          this.decide("wait", `${error.message} Trying again with back-off (first in ${formatDuration(delay)}).`);
          said = error.message;
        }
      }
      if ((await this.wait({ timeoutMs: delay })).kind === "stop") return false;
      delay = Math.min(delay * 2, Math.max(MAX_UNREACHABLE_DELAY_MS, this.options.pollMs ?? 0));
    }
  }

  /**
   * The newest good build that can run; marks unrunnable ones (artifact missing or not matching
   * its record) bad on the way. Throws UNAVAILABLE when the source cannot be reached.
   */
  private async next(): Promise<(Candidate & { file: string }) | undefined> {
    const doc = await this.source.list();
    const { candidates, unmatched } = runnableBuilds(doc, this.excluded, this.options.artifactPattern);
    for (const build of unmatched) {
      this.excluded.add(build.key);
      const why = this.options.artifactPattern ? `no artifact matches ${this.options.artifactPattern}` : "it has no artifacts";
      this.decide("skip", `skipping ${build.key}: ${why}`, build.key);
    }
    for (const candidate of candidates) {
      try {
        return { ...candidate, file: await this.source.fetchArtifact(candidate.build, candidate.artifact) };
      } catch (error) {
        // Not the build's fault: leave it good and try the whole choice again later.
        if (isCicdError(error, "UNAVAILABLE")) throw error;
        const missing = (error as NodeJS.ErrnoException).code === "ENOENT" || isCicdError(error, "NOT_FOUND");
        await this.markBad(candidate.build.key, missing ? `its artifact ${candidate.artifact} is missing` : errorMessage(error));
      }
    }
    return undefined;
  }

  private async runOnce({ build, artifact, file }: Candidate & { file: string }): Promise<Outcome> {
    const key = build.key;
    this.crash.track(key);
    const env = { ...(this.options.env ?? process.env), CICD_BUILD_KEY: key, CICD_BUILD_FILE: file, CICD_BUILD_COMMIT: build.commit ?? "" };
    this.output.begin(`starting ${key}`);
    const proc = new BuildProcess(renderCommand(this.options.command, file), { env, output: this.output });
    this.process = proc;
    this.setPhase("running", { key, artifact, file, pid: proc.pid ?? null, startedAt: new Date(proc.startedAt).toISOString(), restarts: this.crash.restarts });
    this.decide("start", `started build ${key} (${file})`, key);
    const grace = this.options.graceMs ?? 10_000;
    try {
      const wake = await this.wait({ exit: proc, newerThan: this.options.watch ? key : undefined });
      let exit: ProcessExit;
      if (wake.kind === "exit") {
        exit = wake.exit;
        // The shell is gone but it may have left processes behind (a port still held, …).
        if (proc.groupAlive()) await proc.stop(grace);
      } else if (wake.kind === "newer") {
        this.decide("switch", `newer build ${wake.key} appeared, switching`, wake.key);
        this.setPhase("stopping");
        exit = await proc.stop(grace);
      } else {
        this.setPhase("stopping");
        this.decide("stop", `stop requested (${this.stopRequest.signal}); stopping ${key}`, key);
        exit = await proc.stop(grace, this.stopRequest.signal ?? "SIGTERM");
      }
      this.state.lastExit = { key, exitCode: exit.exitCode, signal: exit.signal, at: new Date().toISOString(), runtimeMs: exit.runtimeMs };
      if (this.state.current) this.state.current.pid = null;
      this.decide("exit", `${key} ${describeExit(exit)} after ${formatDuration(exit.runtimeMs)}`, key);
      return wake.kind === "exit" ? { kind: "exited", exit } : wake.kind === "newer" ? { kind: "switched" } : { kind: "stopped" };
    } finally {
      this.process = undefined;
    }
  }

  private async markBad(key: string, reason: string, exit?: ProcessExit): Promise<void> {
    this.excluded.add(key);
    this.state.tried.push(key);
    this.fellBack = true;
    try {
      const info = exit ? { exitCode: exit.exitCode, signal: exit.signal, reason } : { reason };
      // Why, in the program's own words: its last lines (a stack trace, a port in use …).
      const said = exit ? this.output.lastLines() : [];
      const lines = said.length ? ` — ${said.join(" / ")}` : "";
      if (await this.source.markBad(key, info)) this.decide("mark-bad", `marked ${key} bad: ${reason}${lines}`, key);
      else this.decide("error", `${key} is no longer in builds.json; could not mark it bad`, key);
    } catch (error) {
      this.decide("error", `could not mark ${key} bad (${errorMessage(error)}); not starting it again`, key);
    }
  }

  private wait(w: { exit?: BuildProcess; newerThan?: string | null; timeoutMs?: number }): Promise<Wake> {
    const current = w.newerThan;
    return waitFor({
      stop: this.stopRequest,
      exit: w.exit?.exited,
      timeoutMs: w.timeoutMs,
      newer: current !== undefined && this.watcher ? { watcher: this.watcher, find: () => this.findNewer(current) } : undefined,
    });
  }

  private async findNewer(current: string | null): Promise<string | undefined> {
    try {
      const doc = await this.source.list();
      this.lastReadError = "";
      return newerBuild(doc, current, this.excluded, this.options.artifactPattern);
    } catch (error) {
      // Keep the current build running; say so once per distinct problem.
      const message = errorMessage(error);
      if (message !== this.lastReadError) this.log.warn(`cannot read builds.json while watching: ${message}`);
      this.lastReadError = message;
      return undefined;
    }
  }

  private stopped(): RunnerResult {
    this.decide("shutdown", `stopped on request (${this.stopRequest.signal})`);
    return { exitCode: 0, tried: [...this.state.tried] };
  }

  private setPhase(phase: RunnerState["phase"], current?: RunnerState["current"]): void {
    this.state.phase = phase;
    if (current !== undefined) this.state.current = current;
  }

  private decide(kind: DecisionKind, message: string, build?: string): void {
    const at = new Date().toISOString();
    this.state.decisions.push(build === undefined ? { at, kind, message } : { at, kind, message, build });
    if (this.state.decisions.length > MAX_DECISIONS) this.state.decisions.splice(0, this.state.decisions.length - MAX_DECISIONS);
    this.state.updatedAt = at;
    if (kind === "error" || kind === "no-good-build") this.log.error(message);
    else this.log.info(message);
    this.writer.write(this.state);
  }
}
