import { Router } from "express";
import type { Runners } from "../manager/runners.js";

/** Runners: create for a target, inspect, list, stop. */
export function runnersRoutes(runners: Runners): Router {
  const router = Router();
  router.post("/targets/:name/runners", async (req, res) => {
    const runner = await runners.create(req.params.name);
    res.status(201).location(`/api/v1/runners/${runner.id}`).json(runner);
  });
  router.get("/runners", async (req, res) => {
    const target = typeof req.query.target === "string" ? req.query.target : undefined;
    res.json({ runners: await runners.list(target) });
  });
  router.get("/runners/:id", async (req, res) => {
    res.json(await runners.get(req.params.id));
  });
  router.delete("/runners/:id", async (req, res) => {
    res.json(await runners.remove(req.params.id));
  });
  return router;
}
