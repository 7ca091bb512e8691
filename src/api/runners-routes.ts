import { Router } from "express";
import type { Runners } from "../manager/runners.js";
import { createRunnerSchema, type RunnerView } from "../shared/api/runners.js";
import { validate } from "./validate.js";

/**
 * Runners: create for a target (with `{"build": KEY}`: deploy that build, replacing the
 * target's running runners), inspect, list, stop.
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
  router.delete("/runners/:id", async (req, res) => {
    res.json((await runners.remove(req.params.id)) satisfies RunnerView);
  });
  return router;
}
