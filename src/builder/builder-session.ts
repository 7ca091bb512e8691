import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { Masker } from "../shared/mask.js";
import { assertTargetName } from "../shared/safe-path.js";
import { assertBuildKey } from "./build-key.js";
import type { BuilderEvent, BuilderStatus, BuildRequest } from "../shared/protocol.js";
import type { Broadcaster } from "./broadcaster.js";
import { failedOutcome, runBuild, secretsOf, type BuildEnvironment, type BuildOutcome, type BuildSpec } from "./run-build.js";

/** What the builder's own flags add to every build. */
export interface BuildDefaults {
  token?: string;
  /** From --secrets: handed to every build as env (the request's env wins), masked. */
  secrets: Record<string, string>;
  /** Values to mask in every build (the manager token, …). */
  mask: string[];
  ref?: string;
  sha?: string;
}

export interface SessionOptions {
  builderId: string;
  environment: Omit<BuildEnvironment, "signal">;
  broadcaster: Broadcaster;
  defaults: BuildDefaults;
  log: Logger;
  /** Serve one build only; later requests are answered busy with its key. */
  once?: boolean;
}

export type StartAnswer = { accepted: true; key: string; done: Promise<BuildOutcome> } | { accepted: false; key: string };

/**
 * The builder's state: idle, building one build, or done (after its one build with `once`).
 * Runs one build at a time and broadcasts `started`, then `success` or `failure`.
 */
export class BuilderSession {
  private current?: { key: string; abort: AbortController };
  private last?: { key: string; ok: boolean };

  /** Whether the last build's end (`success` or `failure`) reached the manager. */
  finalTold: Promise<boolean> = Promise.resolve(true);

  constructor(private readonly options: SessionOptions) {}

  status(): BuilderStatus {
    const { builderId } = this.options;
    if (this.current) return { builderId, state: "building", key: this.current.key };
    if (this.last) {
      return { builderId, state: this.options.once ? "done" : "idle", key: this.last.key, result: this.last.ok ? "success" : "failure" };
    }
    return { builderId, state: "idle" };
  }

  /**
   * Starts `spec` at once unless a build is running (or done, with `once`). Throws
   * INVALID_ARGUMENT for a key or target name that cannot be built, before accepting it.
   */
  start(spec: BuildSpec): StartAnswer {
    if (this.current) return { accepted: false, key: this.current.key };
    if (this.options.once && this.last) return { accepted: false, key: this.last.key };
    assertBuildKey(spec.key);
    assertTargetName(spec.target);
    const abort = new AbortController();
    this.current = { key: spec.key, abort };
    return { accepted: true, key: spec.key, done: this.run(spec, abort.signal) };
  }

  /** Stops the running build (its commands get SIGTERM); it then ends as failed. */
  abort(): void {
    this.current?.abort.abort();
  }

  /** The spec for a manager's request, with the builder's defaults filled in. */
  specFor(request: BuildRequest): BuildSpec {
    const d = this.options.defaults;
    const pinned = request.ref !== undefined || request.sha !== undefined;
    return {
      ...request,
      ref: pinned ? request.ref : d.ref,
      sha: pinned ? request.sha : d.sha,
      token: request.token ?? d.token,
      env: { ...d.secrets, ...request.env },
      mask: [...d.mask, ...(request.mask ?? [])],
    };
  }

  private async run(spec: BuildSpec, signal: AbortSignal): Promise<BuildOutcome> {
    const { builderId, broadcaster, log } = this.options;
    const at = () => new Date().toISOString();
    void broadcaster.send({ type: "started", builderId, at: at(), key: spec.key });
    log.info("build started", { key: spec.key, target: spec.target });
    const mine = this.current;
    const done = () => {
      if (this.current === mine) this.current = undefined;
    };
    let reported = false;
    // Said once, as soon as the outcome is final: the workspace is removed after, and the
    // builder is free (status and the next build) from then on.
    const report = (outcome: BuildOutcome) => {
      if (reported) return;
      reported = true;
      this.last = { key: spec.key, ok: outcome.ok };
      done();
      this.finalTold = broadcaster.send(finalEvent(builderId, at(), outcome));
      log.info(outcome.ok ? "build succeeded" : "build failed", { key: spec.key, reason: outcome.reason });
    };
    let outcome: BuildOutcome;
    try {
      outcome = await runBuild(spec, { ...this.options.environment, signal, onOutcome: report });
    } catch (error) {
      // The builder itself failed (log folder not writable, disk full, …): still a failed build.
      const reason = new Masker(secretsOf(spec)).mask(errorMessage(error));
      outcome = { ...failedOutcome(spec, ""), reason };
    } finally {
      done();
    }
    report(outcome);
    return outcome;
  }

}

/** The `success` or `failure` event that tells the manager how a build ended. */
function finalEvent(builderId: string, at: string, outcome: BuildOutcome): BuilderEvent {
  const commands = outcome.commands.map(({ command, exitCode, durationMs }) => ({ command, exitCode, durationMs }));
  const common = { builderId, at, key: outcome.key, durationMs: outcome.durationMs, commit: outcome.commit, commands, phases: outcome.phases };
  return outcome.ok
    ? { type: "success", ...common, exitCode: 0, artifacts: outcome.artifacts, sizes: outcome.sizes, ...(outcome.uploads ? { uploads: outcome.uploads } : {}) }
    : {
        type: "failure",
        ...common,
        exitCode: outcome.exitCode,
        reason: outcome.reason ?? "the build failed",
        ...(outcome.failedCommand === undefined ? {} : { failedCommand: outcome.failedCommand }),
        ...(outcome.error ? { code: outcome.error.code } : {}),
      };
}
