import { Router, json } from "express";
import type { Manager } from "../manager/manager.js";
import { errors } from "../shared/errors.js";
import { builderEventSchema } from "../shared/protocol.js";
import { bearerToken } from "./bearer-auth.js";
import { validate } from "./validate.js";

/**
 * Callbacks from builders (`/internal/builders/events`). Outside `/api/v1`: authenticated by
 * the per-builder token, not the API token, so a build never holds the API token.
 */
export function internalRoutes(manager: Manager): Router {
  const router = Router();
  router.post("/internal/builders/events", json({ limit: "256kb" }), (req, res) => {
    const token = bearerToken(req.get("authorization")) ?? "";
    const event = validate(builderEventSchema, req.body);
    if (!manager.receiveBuilderEvent(token, event)) throw errors.unauthorized();
    res.status(204).end();
  });
  return router;
}
