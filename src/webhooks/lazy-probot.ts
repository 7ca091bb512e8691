import type { Probot } from "probot";
import type { HandlerDeps } from "../handlers/handler-deps.js";
import type { Logger } from "../shared/logger.js";
import type { ProbotTuning } from "../github/create-app-probot.js";
import type { GitHubSettings } from "../github/github-settings.js";

/** A webhook delivery whose signature the gate has checked. */
export interface ProbotDelivery {
  id: string;
  name: string;
  payload: unknown;
}

export interface LazyProbot {
  /** The app's Probot, created (and its modules loaded) on the first call. */
  instance(): Promise<Probot>;
  /**
   * Hands verified webhook deliveries to Probot: the first one loads Probot with cicd's
   * handlers, and every one is then run through them (`probot.webhooks.receive`). Probot never
   * reads a request: the webhook gate has checked the signature and parsed the body already.
   */
  receiver(deps: HandlerDeps): (delivery: ProbotDelivery) => Promise<void>;
}

/**
 * Probot for the GitHub App, loaded on first use. Probot, Octokit and their plugins are about a
 * tenth of the server's memory; a server that has not talked to GitHub yet does not need them.
 * Installation clients are shared (share-installation-clients.ts) from the start.
 */
export function lazyProbot(settings: GitHubSettings, logger: Logger, tuning?: ProbotTuning): LazyProbot {
  let probot: Promise<Probot> | undefined;
  const instance = () =>
    (probot ??= retryable(async () => {
      const [{ createAppProbot }, { shareInstallationClients }] = await Promise.all([
        import("../github/create-app-probot.js"),
        import("../github/share-installation-clients.js"),
      ]);
      const created = createAppProbot(settings, logger, tuning);
      await shareInstallationClients(created);
      return created;
    }, () => (probot = undefined)));
  return {
    instance,
    receiver(deps) {
      let loaded: Promise<Probot> | undefined;
      const load = async (): Promise<Probot> => {
        const [{ registerHandlers }, app] = await Promise.all([import("../handlers/register-handlers.js"), instance()]);
        await app.load((probotApp) => registerHandlers(probotApp, deps));
        return app;
      };
      return async (delivery) => {
        const app = await (loaded ??= retryable(load, () => (loaded = undefined)));
        // Not probot.receive: it logs the whole payload; the gate has logged the delivery already.
        await app.webhooks.receive(delivery as Parameters<Probot["receive"]>[0]);
      };
    },
  };
}

/** Runs `load`; when it fails, `forget` drops the memoized promise so the next use tries again. */
function retryable<T>(load: () => Promise<T>, forget: () => void): Promise<T> {
  return load().catch((error: unknown) => {
    forget();
    throw error;
  });
}
