import type { ErrorRequestHandler, RequestHandler } from "express";
import { CicdError, errors } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/** Unknown route under the API: a JSON 404, not express's HTML page. */
export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(errors.notFound("route", `${req.method} ${req.path}`));
};

/**
 * Maps every error to `{"error": message, "code": CODE}` with the right status: catalogue
 * errors carry their own, body-parser's malformed JSON is 400 and too large is 413, anything
 * else is a 500 whose details go to the log only.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const e = error as { type?: string; status?: number; limit?: number };
    let cicd: CicdError;
    if (error instanceof CicdError) cicd = error;
    else if (e.type === "entity.parse.failed") cicd = errors.invalidArgument("body", "valid JSON");
    else if (e.type === "entity.too.large") cicd = errors.payloadTooLarge(`${Math.round((e.limit ?? 0) / 1024)} KiB`);
    else if (e.status === 415 || e.type === "charset.unsupported" || e.type === "encoding.unsupported") cicd = errors.invalidArgument("body", "UTF-8 JSON");
    else {
      logger.error("request failed", { error: error instanceof Error ? error.stack : String(error) });
      cicd = new CicdError("INTERNAL", "Internal error; see the server log.");
    }
    if (res.headersSent) return void res.end();
    res.status(cicd.status).json({ error: cicd.message, code: cicd.code });
  };
}
