import path from "node:path";
import type { Express } from "express";
import { packageRoot } from "../executor/project-root.js";
import { gitHubEnv, type Environment } from "../config/environment.js";
import type { Config } from "../config/load-config.js";
import { createApi } from "../api/create-api.js";
import { buildArtifactsRoutes } from "../api/build-artifacts-routes.js";
import { errorHandler } from "../api/http-errors.js";
import { serverFolders } from "../api/hide-paths.js";
import { internalRoutes } from "../api/internal-routes.js";
import { badgeRoutes } from "../api/badge-routes.js";
import { metricsRoutes } from "../api/metrics-routes.js";
import { runnersRoutes } from "../api/runners-routes.js";
import { buildsRoutes } from "../api/builds-routes.js";
import { eventsRoutes } from "../api/events-routes.js";
import { gitHubSignInSettings } from "../dashboard/github-sign-in.js";
import { createDashboard } from "../dashboard/create-dashboard.js";
import { SessionStore } from "../store/session-store.js";
import type { GitHubIntegration } from "../webhooks/mount-github.js";
import type { Logger } from "../shared/logger.js";
import type { Db } from "../store/open-database.js";
import { PullHeadsStore } from "../store/pull-heads-store.js";
import type { ManagerParts } from "./make-manager.js";

/**
 * Step 4, mount GitHub, when APP_ID is set: its middleware goes first (it reads the raw body to
 * check signatures). Probot and Octokit load only then: a REST-only server stays small. Throws
 * CONFIG_INVALID when the GitHub variables are incomplete or wrong (github-settings.ts).
 */
export async function mountGitHubIfSet(
  app: Express,
  deps: { config: Config; environment: Environment; db: Db; parts: ManagerParts; logger: Logger },
): Promise<GitHubIntegration | undefined> {
  const { config, environment, db, parts, logger } = deps;
  if (!environment.APP_ID) {
    logger.info("GitHub settings absent (APP_ID unset); REST triggers only. To register a GitHub App, open /setup on this server");
    const { appSetup } = await import("../webhooks/app-setup.js");
    app.use(appSetup({
      manifestFile: path.join(packageRoot(), "app.yml"),
      envFile: path.join(process.cwd(), ".env"),
      publicUrl: config.publicUrl,
      gheHost: environment.GHE_HOST,
      gheProtocol: environment.GHE_PROTOCOL,
      logger: logger.child("setup"),
    }));
    return undefined;
  }
  const { mountGitHub } = await import("../webhooks/mount-github.js");
  return mountGitHub(app, {
    service: parts.manager,
    config,
    logger: logger.child("github"),
    env: gitHubEnv(environment),
    deployments: parts.deployments,
    pullHeads: new PullHeadsStore(db),
    onWebhookAnswer: (event, status) => parts.metrics.webhookAnswer(event, status),
    onGitHubApiError: (kind) => parts.metrics.githubApiError(kind),
  });
}

/**
 * Step 5, mount the API: `/healthz` (503 once the database is lost), the builders' callbacks
 * under `/internal`, the REST API under `/api/v1`, the dashboard (`/`, `/login`, `/builds`,
 * `/runners`: see mountDashboard), and the one error handler (server paths hidden from every
 * message).
 */
export function mountApi(
  app: Express,
  deps: { config: Config; parts: ManagerParts; apiToken: string; unavailable: () => string | undefined; logger: Logger; closing?: AbortSignal; db: Db; environment: Environment },
): void {
  const { config, parts, apiToken, unavailable, logger } = deps;
  const { manager, runners } = parts;
  // `/` is the dashboard for a browser; a script (curl, fetch: no text/html in Accept) still
  // gets the JSON pointer to the API and its docs, without a token, rather than a sign-in page.
  app.get("/", (req, res, next) => {
    if (/text\/html/i.test(req.get("accept") ?? "")) return next();
    res.json({ name: "cicd", api: "/api/v1", openapi: "/api/v1/openapi.json", health: "/healthz" });
  });
  app.get("/healthz", (_req, res) => {
    const reason = unavailable();
    if (reason) return void res.status(503).json({ status: "unavailable", reason, ...manager.stats });
    res.json({ status: "ok", ...manager.stats });
  });
  app.use(internalRoutes(manager));
  // Outside /api/v1 and its token: Prometheus has `metrics.token` (or nothing), badges are public.
  app.use(metricsRoutes(parts.metrics, config.metrics.token));
  app.use(badgeRoutes(config, manager));
  app.use("/api/v1", createApi({ config, manager, apiToken, logger: logger.child("api"), extra: [runnersRoutes(runners), buildArtifactsRoutes(manager)], diskUsage: (t) => parts.retention.usage(t), closing: deps.closing }));
  mountDashboard(app, deps);
  app.use(errorHandler(logger, { folders: serverFolders(config) }));
}

/**
 * The dashboard (src/dashboard/), behind its own sign-in (sessions in SQLite). It names its
 * routes one by one, so what it does not serve (`/api/*`, `/internal/*`, `/metrics`,
 * `/badge/*`, `/healthz`, `/setup`) passes by it untouched and needs no session. The log
 * stream, artifact downloads and live events are the API's own routers, mounted behind the
 * session instead of the bearer token.
 */
function mountDashboard(app: Express, deps: { config: Config; parts: ManagerParts; apiToken: string; logger: Logger; closing?: AbortSignal; db: Db; environment: Environment }): void {
  const { config, parts } = deps;
  app.use(createDashboard({
    config,
    manager: parts.manager,
    runners: parts.runners,
    sessions: new SessionStore(deps.db),
    apiToken: deps.apiToken,
    api: {
      buildLog: buildsRoutes(parts.manager),
      artifactDownload: buildArtifactsRoutes(parts.manager),
      events: eventsRoutes(parts.manager, { closing: deps.closing }),
    },
    logger: deps.logger.child("dashboard"),
    github: gitHubSignInSettings(deps.environment),
    githubUrl: deps.environment.GHE_HOST ? `${deps.environment.GHE_PROTOCOL ?? "https"}://${deps.environment.GHE_HOST}` : undefined,
  }));
}
