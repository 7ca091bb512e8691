import { Probot, ProbotOctokit } from "probot";
import type { Logger } from "../shared/logger.js";
import type { GitHubSettings } from "./github-settings.js";
import { toProbotLogger } from "./probot-logger.js";

export interface ProbotTuning {
  /**
   * Octokit's throttling (GitHub's guidance: write requests one at a time, a second apart).
   * On by default; tests turn it off to run fast.
   */
  throttle?: boolean;
  /** Every GitHub request is aborted after this long (default 30 s) so nothing hangs forever. */
  requestTimeoutMs?: number;
}

/** The type of an authenticated GitHub client (installation or app). */
export type GitHubClient = InstanceType<typeof ProbotOctokit>;

/**
 * Creates the Probot instance of the app. Octokit's own retry plugin is left on for handler
 * requests but the check-run reporter turns it off per request (`request.retries: 0`) because
 * it retries by itself and must always send the newest state.
 */
export function createAppProbot(settings: GitHubSettings, logger: Logger, tuning: ProbotTuning = {}): Probot {
  const throttle = tuning.throttle ?? true;
  const timeoutMs = tuning.requestTimeoutMs ?? 30_000;
  // A function (not an object) so it runs last and wins over Probot's own throttle options.
  const Octokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
    ...options,
    throttle: { ...(options.throttle as object | undefined), enabled: throttle },
  }));
  return new Probot({
    appId: settings.appId,
    privateKey: settings.privateKey,
    secret: settings.webhookSecret,
    baseUrl: settings.baseUrl,
    log: toProbotLogger(logger),
    Octokit: Octokit as typeof ProbotOctokit,
    request: {
      // Resolved at call time so test interceptors that patch the global fetch still apply.
      fetch: (url: string | URL, init?: RequestInit) =>
        globalThis.fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) }),
    },
  });
}
