import { Router, json } from "express";
import type { Manager } from "../manager/manager.js";
import { builderEventSchema } from "../shared/protocol.js";
import { bearerToken } from "./bearer-auth.js";
import { validate } from "./validate.js";

/** How long a builder's fetch of its build request waits before it is answered 204. */
const FETCH_WAIT_MS = 25_000;

/**
 * Callbacks from builders: events (`POST /internal/builders/events`), the build request of a
 * builder the manager cannot connect to (`GET /internal/builders/:id/request`), and a good build's files
 * (`PUT /internal/builders/:id/artifacts/:index?name=…`, the body streamed to disk, its
 * SHA-256 in `X-Cicd-Sha256`). Outside `/api/v1`: authenticated by the per-builder token, not
 * the API token, so a build never holds the API token.
 */
export function internalRoutes(manager: Manager): Router {
  const router = Router();
  router.post("/internal/builders/events", json({ limit: "256kb" }), (req, res) => {
    const token = bearerToken(req.get("authorization")) ?? "";
    const event = validate(builderEventSchema, req.body);
    manager.receiveBuilderEvent(token, event);
    res.status(204).end();
  });
  // A builder the manager cannot connect to (swarm) fetches its build request: a long poll,
  // 204 when none came within the wait (the builder asks again).
  router.get("/internal/builders/:builderId/request", async (req, res) => {
    const token = bearerToken(req.get("authorization")) ?? "";
    manager.assertBuilder(req.params.builderId, token);
    const request = await manager.callbacks.take(req.params.builderId, token, FETCH_WAIT_MS);
    if (request) res.status(200).json(request);
    else res.status(204).end();
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
