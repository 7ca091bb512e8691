import { Router } from "express";
import { errors } from "../shared/errors.js";
import { sameSecret } from "../shared/same-secret.js";
import { bearerToken } from "./bearer-auth.js";

/** What `/metrics` serves: the exposition and its content type (metrics/metrics.ts). */
export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

/**
 * `GET /metrics`, Prometheus' text format, outside `/api/v1` and its token: open when `token`
 * (`metrics.token`) is unset, else only with `Authorization: Bearer <token>` (401 without it),
 * so a Prometheus server needs no API token that could also start builds.
 */
export function metricsRoutes(metrics: MetricsSource, token: string | undefined): Router {
  const router = Router();
  router.get("/metrics", async (req, res, next) => {
    if (token !== undefined) {
      const given = bearerToken(req.get("authorization"));
      if (given === undefined || !sameSecret(given, token)) {
        res.set("www-authenticate", 'Bearer realm="metrics"');
        return next(errors.metricsUnauthorized());
      }
    }
    try {
      const text = await metrics.render();
      res.set("content-type", metrics.contentType).set("cache-control", "no-store").send(text);
    } catch (error) {
      next(error);
    }
  });
  return router;
}
