import type { IncomingMessage, ServerResponse } from "node:http";
import type { Probot } from "probot";
import type { HandlerDeps } from "../handlers/handler-deps.js";
import type { Logger } from "../shared/logger.js";
import type { ProbotTuning } from "./create-app-probot.js";
import type { GitHubSettings } from "./github-settings.js";

type Next = (error?: unknown) => void;

export interface LazyProbot {
  /** The app's Probot, created (and its modules loaded) on the first call. */
  instance(): Promise<Probot>;
  /**
   * Middleware for requests to the webhook path (others go straight on): the first one loads
   * Probot with cicd's handlers, and every one is then answered by Probot's own middleware.
   */
  webhooks(path: string, deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse, next: Next) => void;
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
        import("./create-app-probot.js"),
        import("./share-installation-clients.js"),
      ]);
      const created = createAppProbot(settings, logger, tuning);
      await shareInstallationClients(created);
      return created;
    }, () => (probot = undefined)));
  return {
    instance,
    webhooks(path, deps) {
      const wanted = path.replace(/\/+$/, "");
      type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => Promise<unknown>;
      let middleware: Promise<Handler> | undefined;
      const load = async (): Promise<Handler> => {
        const [{ createNodeMiddleware }, { registerHandlers }, app] = await Promise.all([
          import("probot"),
          import("../handlers/register-handlers.js"),
          instance(),
        ]);
        return createNodeMiddleware((probotApp) => registerHandlers(probotApp, deps), { probot: app, webhooksPath: path }) as Promise<Handler>;
      };
      return (req, res, next) => {
        const url = req.url ?? "/";
        const pathname = url.split("?")[0]!.replace(/\/+$/, "");
        if (pathname !== wanted) return next();
        (middleware ??= retryable(load, () => (middleware = undefined))).then((handle) => handle(req, res, next), next);
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
