import { Router, json } from "express";
import type { Manager } from "../manager/manager.js";
import { errors } from "../shared/errors.js";
import { builderEventSchema } from "../shared/protocol.js";
import { bearerToken } from "./bearer-auth.js";
import { validate } from "./validate.js";

/**
 * Callbacks from builders: events (`POST /internal/builders/events`) and a good build's files
 * (`PUT /internal/builders/:id/artifacts/:index?name=…`, the body streamed to disk, its
 * SHA-256 in `X-Cicd-Sha256`). Outside `/api/v1`: authenticated by the per-builder token, not
 * the API token, so a build never holds the API token.
 */
export function internalRoutes(manager: Manager): Router {
  const router = Router();
  router.post("/internal/builders/events", json({ limit: "256kb" }), (req, res) => {
    const token = bearerToken(req.get("authorization")) ?? "";
    const event = validate(builderEventSchema, req.body);
    if (!manager.receiveBuilderEvent(token, event)) throw errors.unauthorized();
    res.status(204).end();
  });
  router.put("/internal/builders/:builderId/artifacts/:index", async (req, res) => {
    const token = bearerToken(req.get("authorization")) ?? "";
    const index = Number(req.params.index);
    const name = typeof req.query.name === "string" ? req.query.name : "";
    const size = req.get("content-length") === undefined ? undefined : Number(req.get("content-length"));
    const received = await manager.receiveArtifact(token, req.params.builderId, { index, name, sha256: req.get("x-cicd-sha256") ?? "", size }, req);
    res.status(201).json({ name: received.name, size: received.size });
  });
  return router;
}
