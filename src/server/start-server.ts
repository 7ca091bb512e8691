import path from "node:path";
import type { Server } from "node:http";
import express from "express";
import { environmentSecrets, readEnvironment, type Environment, type EnvironmentText } from "../config/environment.js";
import type { Config } from "../config/load-config.js";
import type { Executor } from "../executor/types.js";
import type { GitHubIntegration } from "../webhooks/mount-github.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { resolveApiToken } from "./api-token.js";
import { listen } from "./listen.js";
import { makeExecutor } from "./make-executor.js";
import { makeManagerAndRunners, type LateBindings } from "./make-manager.js";
import { mountApi, mountGitHubIfSet } from "./mount-routes.js";
import { lockAndOpenDatabase, type HeldDatabase } from "./open-database-step.js";
import { running, type RunningServer } from "./running-server.js";
import { forwardFromWebhookProxy } from "./webhook-proxy.js";
import { WEBHOOKS_PATH } from "../github/webhooks-path.js";

export type { RunningServer };

export interface StartOptions {
  config: Config;
  /** The environment already read (cicd server reads it once, in main.ts). */
  environment?: Environment;
  /** Otherwise the variables to read it from (default: process.env); tests pass their own. */
  env?: EnvironmentText;
  logger?: Logger;
  /** Use this executor instead of the configured one (tests). */
  executor?: Executor;
}

/**
 * The composition root, as numbered steps (each a function of its own beside this file):
 *  1. lock and open the database (open-database-step.ts);
 *  2. make the executor (make-executor.ts);
 *  3. make the manager and the runners (make-manager.ts);
 *  4. mount GitHub, when APP_ID is set, and 5. mount the API (mount-routes.ts);
 *  6. listen (listen.ts);
 *  7. recover interrupted builds and runners, and start the queue.
 * The environment is read, and checked, before anything is opened. When a step fails, what the
 * earlier ones opened is closed and the database lock let go, so a retry in this process is not
 * refused by its own lock.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const environment = options.environment ?? readEnvironment(options.env ?? process.env);
  const logger = options.logger ?? createLogger("cicd", { level: environment.LOG_LEVEL, format: environment.LOG_FORMAT, secrets: environmentSecrets(environment) });
  const dataDir = config.database === ":memory:" ? path.dirname(config.servicefs) : path.dirname(config.database);

  // 1. Lock and open the database.
  const database = lockAndOpenDatabase(config, logger);
  const opened: { executor?: Executor; github?: GitHubIntegration; server?: Server } = {};
  try {
    // The token file is written only under the lock: two servers never race for it.
    const apiToken = resolveApiToken({ CICD_API_TOKEN: environment.CICD_API_TOKEN }, dataDir, logger);
    // 2. Make the executor. 3. Make the manager and the runners.
    const executor = (opened.executor = options.executor ?? makeExecutor(config, environment, dataDir, logger));
    const runsOn = await executor.check();
    const late: LateBindings = { port: 0 };
    const parts = makeManagerAndRunners({ config, db: database.db, dataDir, executor, logger, late, unavailable: database.unavailable });
    // 4. Mount GitHub (first: it reads raw bodies). 5. Mount the API.
    const app = express();
    app.disable("x-powered-by");
    app.set("trust proxy", "loopback");
    const github = (opened.github = await mountGitHubIfSet(app, { config, environment, db: database.db, parts, logger }));
    late.cloneToken = github?.cloneToken;
    // Long-lived streams (/api/v1/events) end cleanly when the server stops.
    const streams = new AbortController();
    mountApi(app, { config, parts, apiToken, unavailable: database.unavailable, logger, closing: streams.signal, db: database.db, environment });
    // 6. Listen. 7. Recover and start.
    const { server, port, url, where } = await listen(app, { config, github, unavailable: database.unavailable, executor, logger });
    opened.server = server;
    late.port = port;
    await parts.start();
    if (github && environment.WEBHOOK_PROXY_URL) await forwardFromWebhookProxy(environment.WEBHOOK_PROXY_URL, server, port, WEBHOOKS_PATH, logger.child("webhook-proxy"));
    logger.info(`listening on ${where} (executor ${executor.name}: ${runsOn}; ${config.targets.length} target(s))`);
    return running({ url, port, apiToken, github, executor, parts, server, database, graceMs: config.shutdownGraceMs, streams });
  } catch (error) {
    await undo(opened, database);
    throw error;
  }
}

/** Closes, newest first, what a failed start had opened; the error that stopped it is the one thrown. */
async function undo(opened: { executor?: Executor; github?: GitHubIntegration; server?: Server }, database: HeldDatabase): Promise<void> {
  if (opened.server) {
    opened.server.closeAllConnections?.();
    await new Promise<void>((resolve) => opened.server!.close(() => resolve()));
  }
  await opened.github?.close().catch(() => undefined);
  await opened.executor?.close().catch(() => undefined);
  database.close();
}
