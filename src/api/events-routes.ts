import { Router, type Response } from "express";
import type { Manager } from "../manager/manager.js";
import type { Build } from "../shared/api/builds.js";

export interface EventsOptions {
  /** Aborted when the server stops: every open stream says so and ends (no half-sent event). */
  closing?: AbortSignal;
  /** How often a quiet stream sends a comment (proxies close idle connections). */
  keepAliveMs?: number;
}

/** A client that reads slower than builds change is dropped past this much unsent data; it reconnects. */
const MAX_BUFFERED = 1024 * 1024;

/**
 * `GET /events`: Server-Sent Events, `event: build` with the build's JSON (as `GET
 * /builds/:key` answers it) on every status change, `?target=` to hear one target only. A comment
 * every 15 s keeps proxies from closing a quiet stream; `retry: 3000` tells EventSource when to
 * reconnect. Events are not replayed: a client that reconnects reads the builds it missed
 * through `GET /builds`.
 */
export function eventsRoutes(manager: Manager, options: EventsOptions = {}): Router {
  const router = Router();
  const open = new Set<Response>();
  options.closing?.addEventListener("abort", () => {
    for (const res of open) res.end(": server shutting down\n\n");
    open.clear();
  });

  router.get("/events", (req, res) => {
    const target = typeof req.query.target === "string" && req.query.target !== "" ? req.query.target : undefined;
    res.status(200).set({ "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no", "x-content-type-options": "nosniff" });
    res.flushHeaders();
    if (options.closing?.aborted) return void res.end(": server shutting down\n\n");
    res.write("retry: 3000\n: events\n\n");
    open.add(res);
    const send = (text: string) => {
      if (res.writableLength > MAX_BUFFERED) return void res.destroy();
      res.write(text);
    };
    const unsubscribe = manager.onChange(({ build }) => {
      if (target === undefined || build.target === target) send(`event: build\ndata: ${JSON.stringify(build satisfies Build)}\n\n`);
    });
    const keepAlive = setInterval(() => send(": keep-alive\n\n"), options.keepAliveMs ?? 15_000);
    keepAlive.unref();
    res.on("close", () => {
      clearInterval(keepAlive);
      unsubscribe();
      open.delete(res);
    });
  });

  return router;
}
