import { Router, json } from "express";
import type { Config } from "../config/load-config.js";
import type { Manager } from "../manager/manager.js";
import type { TargetDisk } from "../manager/retention.js";
import type { Logger } from "../shared/logger.js";
import { artifactsRoutes } from "./artifacts-routes.js";
import { bearerAuth } from "./bearer-auth.js";
import { buildsRoutes } from "./builds-routes.js";
import { serverFolders } from "./hide-paths.js";
import { eventsRoutes } from "./events-routes.js";
import { markBadRoutes } from "./mark-bad-routes.js";
import { errorHandler, notFoundRoute } from "./http-errors.js";
import { openapiDocument } from "./openapi.js";
import { requireJsonBody } from "./require-json.js";

export interface ApiDeps {
  config: Config;
  manager: Manager;
  apiToken: string;
  logger: Logger;
  /** Extra routers mounted under /api/v1 after auth (runners). */
  extra?: Router[];
  /** The bytes a target's data uses (retention keeps it current), for `GET /targets`. */
  diskUsage?: (target: string) => TargetDisk | undefined;
  /** Aborted when the server stops, so live streams (`/events`) end cleanly before connections close. */
  closing?: AbortSignal;
}

/**
 * The REST API under `/api/v1`: bearer auth, then plain `application/json` bodies up to 1 MB
 * (anything else 415), JSON errors that never show the server's absolute paths.
 */
export function createApi(deps: ApiDeps): Router {
  const api = Router();
  api.get("/openapi.json", (_req, res) => {
    res.json(openapiDocument());
  });
  api.use(bearerAuth(deps.apiToken));
  api.use(requireJsonBody);
  api.use(json({ limit: "1mb", strict: true }));
  api.use(buildsRoutes(deps.manager));
  api.use(eventsRoutes(deps.manager, { closing: deps.closing }));
  api.use(artifactsRoutes(deps.config, deps.manager.servicefs, deps.diskUsage));
  api.use(markBadRoutes(deps.config, deps.manager.servicefs));
  for (const router of deps.extra ?? []) api.use(router);
  api.use(notFoundRoute);
  api.use(errorHandler(deps.logger, { folders: serverFolders(deps.config) }));
  return api;
}
