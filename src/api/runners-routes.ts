import { Router } from "express";
import { z } from "zod";
import type { Runners } from "../manager/runners.js";
import { validate } from "./validate.js";

const createBody = z.strictObject({
  build: z.string({ error: "expected a build key" }).min(1, { error: "expected a build key" }).max(200).optional(),
});

/**
 * Runners: create for a target (with `{"build": KEY}`: deploy that build, replacing the
 * target's running runners), inspect, list, stop.
 */
export function runnersRoutes(runners: Runners): Router {
  const router = Router();
  router.post("/targets/:name/runners", async (req, res) => {
    const { build } = validate(createBody, req.body ?? {});
    const runner = build === undefined ? await runners.create(req.params.name) : await runners.deploy(req.params.name, build);
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
