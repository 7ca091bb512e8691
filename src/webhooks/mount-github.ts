import type { IncomingMessage, ServerResponse } from "node:http";
import type { Express } from "express";
import { findTarget, type Config } from "../config/load-config.js";
import { directEvents } from "../handlers/direct-events.js";
import type { HandlerDeps } from "../handlers/handler-deps.js";
import type { PullHeads } from "../shared/pull-heads.js";
import type { BuildService, CloneTokenProvider, Deployments } from "../manager/types.js";
import type { Logger } from "../shared/logger.js";
import { appIdentity } from "../github/app-identity.js";
import { WEBHOOKS_PATH } from "../github/webhooks-path.js";
import { BackgroundTasks } from "../github/background-tasks.js";
import { CheckRunReporter } from "../github/check-run-reporter.js";
import { createCloneTokenProvider } from "../github/clone-token-provider.js";
import type { ProbotTuning } from "../github/create-app-probot.js";
import { directWebhooks } from "./direct-webhooks.js";
import type { RetryOptions } from "../github/github-retry-delay.js";
import { readGitHubSettings } from "../github/github-settings.js";
import { lazyProbot } from "./lazy-probot.js";
import type { WebhookLimits } from "../github/unverified-bodies.js";

export { WEBHOOKS_PATH };

export interface GitHubIntegration {
  /** Token to clone a GitHub repository for this build (fresh installation token), or undefined. */
  cloneToken: CloneTokenProvider;
  /**
   * The webhook endpoint (every event), already mounted in the app. A server may also call it
   * ahead of the app, as start-server does, to spare webhooks express's routing; `next` gets
   * every request to another path.
   */
  directWebhooks: (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
  /** Resolves when no reply, reaction or check run update is in flight (tests, shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface GitHubDeps {
  /** Told of every GitHub request that failed, by kind (metrics). */
  onGitHubApiError?: (kind: string) => void;
  /** Pull request heads as webhooks told them (store/pull-heads-store.ts), so `/build` builds what its commenter saw. */
  pullHeads?: PullHeads;
  service: BuildService;
  config: Config;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  /**
   * Runners: with them, a build a runner marks bad gets that said on its check run, and
   * successful check runs of targets with a run command get a "Deploy" button.
   */
  deployments?: Deployments;
  /** Tests: no Octokit throttling, short request timeouts, fast check run retries. */
  tuning?: ProbotTuning & { retry?: Partial<RetryOptions> };
  /** Limits on unverified webhook bodies (defaults in unverified-bodies.ts); tests shorten them. */
  webhookLimits?: Partial<WebhookLimits>;
  /** Told every answer of the webhook endpoint (the verified event or undefined, the status): metrics. */
  onWebhookAnswer?: (event: string | undefined, status: number) => void;
}

/**
 * Connects cicd to GitHub as a GitHub App, configured by Probot's standard environment
 * (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, GHE_HOST, GHE_PROTOCOL): mounts the
 * signed webhook endpoint at /api/github/webhooks (mount it before any body parser: signatures
 * are checked on the raw body), reports every build of a GitHub repository as a check run (and,
 * with `deployments`, builds marked bad and deploys on it), and hands out clone tokens. Returns
 * undefined without APP_ID; throws CONFIG_INVALID when APP_ID is set but the webhook secret or
 * private key is missing.
 */
export async function mountGitHub(app: Express, deps: GitHubDeps): Promise<GitHubIntegration | undefined> {
  const settings = readGitHubSettings(deps.env);
  if (!settings) {
    deps.logger.info("GitHub settings absent; REST triggers only");
    return undefined;
  }
  const { logger, service, config, deployments } = deps;
  const tasks = new BackgroundTasks(logger, () => deps.onGitHubApiError?.("reply"));
  // Probot and Octokit load on first use (a check run, a clone token, an event below that
  // needs a context), not at start: an idle server stays smaller.
  const probot = lazyProbot(settings, logger, deps.tuning);
  const reporter = new CheckRunReporter({
    onApiError: deps.onGitHubApiError,
    service,
    auth: async (installationId) => (await probot.instance()).auth(installationId),
    publicUrl: config.publicUrl,
    logger: logger.child("checks"),
    retry: deps.tuning?.retry,
    deployable: (build) => !!deployments && !!findTarget(config, build.target)?.run,
  });
  const refreshCheckRun = (key: string) => {
    const build = service.get(key);
    if (build) reporter.refresh(build);
  };
  const handlerDeps: HandlerDeps = {
    service,
    config,
    logger: logger.child("webhooks"),
    tasks,
    checkRunUrl: (key) => reporter.checkRunUrl(key, 3000),
    deployments,
    pullHeads: deps.pullHeads,
    refreshCheckRun,
  };
  // One gate for every event: bodies verified while they stream in, under limits; push and
  // pull_request are queued there without a Probot context, the rest reach Probot verified.
  const direct = directWebhooks({
    path: WEBHOOKS_PATH,
    secret: settings.webhookSecret,
    events: directEvents(handlerDeps),
    receive: probot.receiver(handlerDeps),
    logger: handlerDeps.logger,
    limits: deps.webhookLimits,
    onAnswer: deps.onWebhookAnswer,
  });
  app.use(direct);
  const unsubscribe = service.onChange(({ build }) => reporter.report(build));
  // Check runs a killed process left missing or behind (the outbox in SQLite) catch up now.
  reporter.reconcile();
  const unsubscribeBad = deployments?.onMarkedBad(({ build }) => reporter.refresh(build));
  // Said once GitHub has said who the app is (in the background: start-up does not wait on GitHub).
  void appIdentity(settings).then((who) =>
    who.ok
      ? logger.info(`GitHub App "${who.name}" (${who.slug}, id ${who.id}) connected; webhooks at ${WEBHOOKS_PATH}`, { api: settings.baseUrl })
      : logger.error(`GitHub App ${settings.appId} is not connected: ${who.why}; webhooks are still taken at ${WEBHOOKS_PATH}`, { api: settings.baseUrl }),
  );
  return {
    directWebhooks: direct,
    cloneToken: createCloneTokenProvider({ config, settings, appClient: async () => (await probot.instance()).auth(), logger }),
    idle: async () => {
      await tasks.idle();
      await reporter.idle();
    },
    close: async () => {
      unsubscribe();
      unsubscribeBad?.();
      await reporter.close();
      await tasks.idle();
    },
  };
}
