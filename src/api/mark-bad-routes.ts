import { Router } from "express";
import { findTarget, type Config } from "../config/load-config.js";
import type { BuildRecord } from "../servicefs/builds-file.js";
import type { ServiceFs } from "../servicefs/service-fs.js";
import { markBadRequestSchema } from "../shared/api/targets.js";
import { errors } from "../shared/errors.js";
import { validate } from "./validate.js";

/**
 * `POST /targets/:name/builds/:key/mark-bad` `{"reason"?, "exitCode"?, "signal"?}`: what a runner
 * without the manager's disk (`cicd runner --api`) does where a local runner writes builds.json
 * itself. The change goes through the same BuildsFile.update (lock, atomic replace), so the
 * manager notices it as it notices a local runner's (bad-builds watcher: check run, metrics,
 * `fallback` notifications). Answers the build's builds.json entry.
 *
 * Idempotent: a build already bad is answered as it is, unchanged — a runner that retries after
 * losing the answer, or a second runner of the target, must not replace the first reason or move
 * `markedBadAt`. A key builds.json does not hold (never published, or removed by retention) is 404.
 */
export function markBadRoutes(config: Config, servicefs: ServiceFs): Router {
  const router = Router();
  router.post("/targets/:name/builds/:key/mark-bad", async (req, res) => {
    const target = findTarget(config, req.params.name);
    if (!target) throw errors.notFound("target", req.params.name);
    const info = validate(markBadRequestSchema, req.body ?? {});
    const file = servicefs.builds(target.name);
    const key = req.params.key;
    const listed = (await file.read()).builds.find((b) => b.key === key);
    if (!listed) throw errors.notFound("build in builds.json", `${target.name}/${key}`);
    if (listed.status === "bad") return void res.json(listed satisfies BuildRecord);
    const record = await file.update((doc) => {
      const build = doc.builds.find((b) => b.key === key);
      // Removed (retention) or marked by someone else between the read and the lock.
      if (!build || build.status === "bad") return build;
      build.status = "bad";
      build.markedBadAt = new Date().toISOString();
      if (info.exitCode !== undefined) build.exitCode = info.exitCode;
      if (info.signal !== undefined) build.signal = info.signal;
      if (info.reason !== undefined) build.reason = info.reason;
      return { ...build };
    });
    if (!record) throw errors.notFound("build in builds.json", `${target.name}/${key}`);
    res.json(record satisfies BuildRecord);
  });
  return router;
}
