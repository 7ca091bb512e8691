import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import path from "node:path";
import express from "express";
import type { Config } from "../config/load-config.js";
import { createApi } from "../api/create-api.js";
import { errorHandler } from "../api/http-errors.js";
import { serverFolders } from "../api/hide-paths.js";
import { internalRoutes } from "../api/internal-routes.js";
import { createExecutor } from "../executor/index.js";
import type { Executor } from "../executor/types.js";
import type { GitHubIntegration } from "../github/mount-github.js";
import { Manager } from "../manager/manager.js";
import { errors } from "../shared/errors.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { BuildStore } from "../store/build-store.js";
import { RunnerStore } from "../store/runner-store.js";
import { Runners } from "../manager/runners.js";
import { BadBuildsWatcher } from "../manager/bad-builds-watcher.js";
import { runnersRoutes } from "../api/runners-routes.js";
import { buildArtifactsRoutes } from "../api/build-artifacts-routes.js";
import { PullHeadsStore } from "../store/pull-heads-store.js";
import { openDatabase, type Db } from "../store/open-database.js";
import { lockDatabase } from "../store/database-lock.js";
import { resolveApiToken } from "./api-token.js";

export interface StartOptions {
  config: Config;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Use this executor instead of the configured one (tests). */
  executor?: Executor;
}

export interface RunningServer {
  url: string;
  port: number;
  apiToken: string;
  manager: Manager;
  executor: Executor;
  runners: Runners;
  github?: GitHubIntegration;
  /** Graceful stop: no new work, running builds get `graceMs`, then everything closes. */
  close(graceMs?: number): Promise<void>;
  /** Second signal: interrupt running builds at once. */
  interrupt(): void;
}

/**
 * The composition root: config → store → executor → manager → HTTP (GitHub webhooks, builder
 * callbacks, REST API) → recovery and the queue. The numbered steps are the start-up order.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger("cicd");
  const dataDir = config.database === ":memory:" ? path.dirname(config.servicefs) : path.dirname(config.database);

  // 1. Durable state: one server per database, so the lock is taken before it is opened and
  // let go only after it is closed. A database file deleted or replaced under the running
  // server is noticed by the watch: health turns 503 and new triggers are refused.
  const lock = config.database === ":memory:" ? undefined : lockDatabase(config.database);
  let db: Db;
  try {
    db = openDatabase(config.database);
  } catch (error) {
    lock?.release();
    throw error;
  }
  let unavailable: string | undefined;
  lock?.watch((reason) => {
    unavailable = reason;
    logger.error(reason, { database: config.database });
  });
  const store = new BuildStore(db);
  const apiToken = resolveApiToken(env, dataDir, logger);

  // 2. Where builds run.
  // Containers are labelled with this manager's instance (its database), so recovery after a
  // restart never touches the containers of another cicd on the same engine.
  const instance = createHash("sha256").update(path.resolve(config.database === ":memory:" ? config.file : config.database)).digest("hex").slice(0, 12);
  const executor = options.executor ?? createExecutor(config.executor, { logger: logger.child("executor"), instance, workloadsDir: path.join(dataDir, "workloads") });

  // 3. HTTP: GitHub's middleware first (it reads the raw body to check signatures).
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback");
  let port = 0;
  let cloneToken: GitHubIntegration["cloneToken"] | undefined = undefined;
  const manager = new Manager({
    config,
    store,
    db,
    dataDir,
    executor,
    logger: logger.child("manager"),
    logDir: path.join(dataDir, "logs"),
    cacheDir: path.join(dataDir, "cache"),
    callbackUrl: () => `http://${config.callbackHost ?? executor.managerHost}:${port}/internal/builders/events`,
    cloneToken: (build) => cloneToken?.(build) ?? Promise.resolve(undefined),
    available: () => unavailable,
  });
  // Probot and Octokit load only when GitHub is configured: a REST-only server stays small.
  const runners = new Runners({ config, store: new RunnerStore(db), executor, servicefs: manager.servicefs, logger: logger.child("runners"), stateDir: path.join(dataDir, "runners") });
  manager.onChange(({ build }) => {
    if (build.status === "succeeded") void runners.deployed(build.target);
  });
  const badBuilds = new BadBuildsWatcher({ service: manager, servicefs: manager.servicefs, targets: config.targets.map((t) => t.name), logger: logger.child("bad-builds") });
  const deployments = { onMarkedBad: badBuilds.onMarkedBad.bind(badBuilds), deploy: runners.deploy.bind(runners) };
  const github = env.APP_ID
    ? await (await import("../github/mount-github.js")).mountGitHub(app, { service: manager, config, logger: logger.child("github"), env, deployments, pullHeads: new PullHeadsStore(db) })
    : undefined;
  if (!github) logger.info("GitHub settings absent (APP_ID unset); REST triggers only");
  cloneToken = github?.cloneToken;
  app.get("/healthz", (_req, res) => {
    if (unavailable) return void res.status(503).json({ status: "unavailable", reason: unavailable, ...manager.stats });
    res.json({ status: "ok", ...manager.stats });
  });
  app.use(internalRoutes(manager));
  app.use("/api/v1", createApi({ config, manager, apiToken, logger: logger.child("api"), extra: [runnersRoutes(runners), buildArtifactsRoutes(manager)] }));
  app.use(errorHandler(logger, { folders: serverFolders(config) }));

  // 4. Listen, then recover interrupted builds and start the queue.
  // Webhooks that only queue builds are taken before express's routing (see mountGitHub).
  const handle = github ? (req: IncomingMessage, res: ServerResponse) => github.directWebhooks(req, res, () => app(req, res)) : app;
  const server: Server = createServer((req, res) => {
    // Every GitHub delivery may queue work: 503 while that cannot be kept, so GitHub shows the
    // delivery as failed and it can be redelivered once the server is restarted.
    if (unavailable && req.headers["x-github-event"] !== undefined) {
      const refused = errors.unavailable(unavailable);
      const body = JSON.stringify({ error: refused.message, code: refused.code });
      return void res.writeHead(refused.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    }
    handle(req, res);
  });
  // The webhook gate sees a request once its headers are in; slow header senders end here.
  server.headersTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    // Not serving (e.g. the port is taken): let the database and its lock go, so a retry in
    // this process is not refused by its own lock.
    await executor.close().catch(() => undefined);
    db.close();
    lock?.release();
    throw error;
  });
  port = (server.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const url = `http://${host}:${port}`;
  await manager.start();
  await runners.start();
  await badBuilds.start();
  logger.info(`listening on ${url} (executor ${executor.kind}, ${config.targets.length} target(s))`);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    apiToken,
    manager,
    executor,
    runners,
    github,
    interrupt: () => manager.interruptAll(),
    close: (graceMs = config.shutdownGraceMs) =>
      (closing ??= (async () => {
        await manager.shutdown(graceMs);
        runners.close();
        badBuilds.close();
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await github?.close();
        await executor.close();
        db.close();
        lock?.release();
      })()),
  };
}
