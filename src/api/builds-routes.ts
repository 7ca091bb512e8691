import { existsSync } from "node:fs";
import { Router } from "express";
import { z } from "zod";
import type { Manager } from "../manager/manager.js";
import { FINAL_STATUSES, type Build } from "../manager/types.js";
import { errors } from "../shared/errors.js";
import { COMMIT_SHA } from "../shared/safe-path.js";
import { GIT_REF, GIT_REF_EXPECTED } from "../shared/protocol.js";
import { followLog } from "./follow-log.js";
import { validate } from "./validate.js";

const triggerBody = z.strictObject({
  target: z.string({ error: "expected a target name" }).min(1, { error: "expected a target name" }),
  ref: z.string().min(1).max(255).regex(GIT_REF, { error: GIT_REF_EXPECTED }).optional(),
  sha: z.string().regex(COMMIT_SHA, { error: "expected a commit sha (7-64 hex digits)" }).optional(),
});

const listQuery = z.object({
  target: z.string().optional(),
  status: z.enum(["queued", "running", "succeeded", "failed", "cancelled", "error"], { error: "expected one of queued, running, succeeded, failed, cancelled, error" }).optional(),
  limit: z.coerce.number({ error: "expected a number from 1 to 1000" }).int().min(1).max(1000).optional(),
});

/** Builds: trigger, list, get, log (optionally followed), cancel. */
export function buildsRoutes(manager: Manager): Router {
  const router = Router();
  const find = (key: string): Build => {
    const build = manager.get(key);
    if (!build) throw errors.notFound("build", key);
    return build;
  };

  router.post("/builds", async (req, res) => {
    const body = validate(triggerBody, req.body ?? {});
    const { build } = await manager.trigger({ ...body, trigger: "api" });
    res.status(202).location(`/api/v1/builds/${build.key}`).json(build);
  });

  router.get("/builds", (req, res) => {
    const query = validate(listQuery, req.query, "query");
    res.json({ builds: manager.list(query) });
  });

  router.get("/builds/:key", (req, res) => {
    res.json(find(req.params.key));
  });

  router.get("/builds/:key/log", async (req, res) => {
    const build = find(req.params.key);
    const path = manager.logPath(build.key);
    const follow = req.query.follow === "1" || req.query.follow === "true";
    if (!follow && !existsSync(path)) throw errors.notFound("log for build", build.key);
    res.type("text/plain; charset=utf-8").set("cache-control", "no-store").set("x-content-type-options", "nosniff");
    await followLog(
      {
        path,
        finished: () => FINAL_STATUSES.includes(manager.get(build.key)?.status ?? "error"),
        subscribe: (wake) => manager.onLog(build.key, wake, wake),
      },
      res,
      follow,
    );
  });

  router.post("/builds/:key/cancel", async (req, res) => {
    res.json(await manager.cancel(req.params.key));
  });

  return router;
}
