import { Router } from "express";
import type { Runners } from "../manager/runners.js";
import { createRunnerSchema, type RunnerView } from "../shared/api/runners.js";
import { existsSync } from "node:fs";
import { errors } from "../shared/errors.js";
import { followLog } from "./follow-log.js";
import { validate } from "./validate.js";

/**
 * Runners: create for a target (with `{"build": KEY}`: deploy that build, replacing the
 * target's running runners), inspect, list, read the deployed program's output, stop.
 */
export function runnersRoutes(runners: Runners): Router {
  const router = Router();
  router.post("/targets/:name/runners", async (req, res) => {
    const { build } = validate(createRunnerSchema, req.body ?? {});
    const runner = build === undefined ? await runners.create(req.params.name) : await runners.deploy(req.params.name, build);
    res.status(201).location(`/api/v1/runners/${runner.id}`).json(runner satisfies RunnerView);
  });
  router.get("/runners", async (req, res) => {
    const target = typeof req.query.target === "string" ? req.query.target : undefined;
    res.json({ runners: (await runners.list(target)) satisfies RunnerView[] });
  });
  router.get("/runners/:id", async (req, res) => {
    res.json((await runners.get(req.params.id)) satisfies RunnerView);
  });
  // The deployed program's output (stdout and stderr), followed like a build's log with ?follow=1.
  router.get("/runners/:id/log", async (req, res) => {
    const output = runners.output(req.params.id);
    const follow = req.query.follow === "1" || req.query.follow === "true";
    if (!follow && !existsSync(output.path)) throw errors.notFound("output of runner", req.params.id);
    res.type("text/plain; charset=utf-8").set("cache-control", "no-store").set("x-content-type-options", "nosniff");
    await followLog(
      {
        path: output.path,
        finished: () => !output.running(),
        // The runner writes the file from its own process: look again every half second.
        subscribe: (wake) => {
          const timer = setInterval(wake, 500);
          return () => clearInterval(timer);
        },
      },
      res,
      follow,
    );
  });
  router.delete("/runners/:id", async (req, res) => {
    res.json((await runners.remove(req.params.id)) satisfies RunnerView);
  });
  return router;
}
