import { existsSync } from "node:fs";
import { Router } from "express";
import type { Manager } from "../manager/manager.js";
import { FINAL_STATUSES, buildListQuerySchema, triggerRequestSchema, type Build } from "../shared/api/builds.js";
import { errors } from "../shared/errors.js";
import { followLog, followLogEvents } from "./follow-log.js";
import { validate } from "./validate.js";

/**
 * Builds: trigger, list, get (by key, or by a target's build number), log (optionally followed), cancel. Bodies and queries are checked
 * with the schemas of shared/api/builds.ts; answers are typed with its `Build` (the manager's
 * build must be one), and test/api/answers-match-schemas.test.ts checks them at run time.
 */
export function buildsRoutes(manager: Manager): Router {
  const router = Router();
  const find = (key: string): Build => {
    const build = manager.get(key);
    if (!build) throw errors.notFound("build", key);
    return build;
  };

  router.post("/builds", async (req, res) => {
    const body = validate(triggerRequestSchema, req.body ?? {});
    const { build } = await manager.trigger({ ...body, trigger: "api" });
    res.status(202).location(`/api/v1/builds/${build.key}`).json(build satisfies Build);
  });

  router.get("/builds", (req, res) => {
    const query = validate(buildListQuerySchema, req.query, "query");
    res.json({ builds: manager.list(query) satisfies Build[] });
  });

  router.get("/builds/:key", (req, res) => {
    res.json(find(req.params.key));
  });

  router.get("/builds/:key/log", async (req, res) => {
    const build = find(req.params.key);
    const path = manager.logPath(build.key);
    const follow = req.query.follow === "1" || req.query.follow === "true";
    // Ended: the log's end was signalled, or the build had ended (the log is complete then).
    let ended = false;
    const source = {
      path,
      finished: () => ended || FINAL_STATUSES.includes(manager.get(build.key)?.status ?? "error"),
      subscribe: (wake: () => void) =>
        manager.onLog(build.key, wake, () => {
          ended = true;
          wake();
        }),
    };
    // An EventSource (or the CLI) asks for events; anything else gets today's plain text.
    if (follow && /text\/event-stream/i.test(req.get("accept") ?? "")) {
      const after = lastEventId(req.get("last-event-id"));
      res.status(200).set({ "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no", "x-content-type-options": "nosniff" });
      res.flushHeaders();
      await followLogEvents(source, res, { after, ended: () => manager.get(build.key) ?? build });
      return;
    }
    if (!follow && !existsSync(path)) throw errors.notFound("log for build", build.key);
    res.type("text/plain; charset=utf-8").set("cache-control", "no-store").set("x-content-type-options", "nosniff");
    await followLog(source, res, follow);
  });

  router.get("/targets/:name/builds/:number", (req, res) => {
    const number = Number(req.params.number);
    if (!/^[1-9]\d{0,15}$/.test(req.params.number)) throw errors.invalidArgument("build number", "a whole number from 1", req.params.number);
    const build = manager.byNumber(req.params.name, number);
    if (!build) throw errors.notFound("build", `${req.params.name} #${number}`);
    res.json(build satisfies Build);
  });

  router.post("/builds/:key/cancel", async (req, res) => {
    res.json((await manager.cancel(req.params.key)) satisfies Build);
  });

  return router;
}

/** `Last-Event-ID` of a log stream: the last line the client has (0: none). */
function lastEventId(header: string | undefined): number {
  if (header === undefined || header.trim() === "") return 0;
  if (!/^\d{1,15}$/.test(header.trim())) throw errors.invalidArgument("Last-Event-ID", "a line number from the log stream", header);
  return Number(header.trim());
}
