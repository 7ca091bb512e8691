import type { ErrorRequestHandler, RequestHandler } from "express";
import { CicdError, errors } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { pathHider } from "./hide-paths.js";

/** Unknown route under the API: a JSON 404, not express's HTML page. */
export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(errors.notFound("route", `${req.method} ${req.path}`));
};

export interface ErrorHandlerOptions {
  /** The server's folders (see serverFolders): their absolute paths never reach an answer. */
  folders?: readonly string[];
}

/**
 * Maps every error to `{"error": message, "code": CODE}` with the right status: catalogue
 * errors carry their own; what express and body-parser raise on bad input (a bad %-escape in
 * the path, malformed or too large JSON, an unknown encoding or charset, a request cut short)
 * is a 4xx; anything else is a 500 whose details go to the log only. Bad input never earns a
 * 5xx. As a last line of defence, absolute paths under the server's folders are rewritten to
 * relative ones in every message.
 */
export function errorHandler(logger: Logger, options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  const hide = pathHider(options.folders ?? []);
  return (error: unknown, _req, res, _next) => {
    const cicd = toCicdError(error) ?? internal(logger, error);
    if (res.headersSent) return void res.end();
    // type() first: a route may have set the type of what it meant to send (a download).
    res.status(cicd.status).type("application/json").json({ error: hide(cicd.message), code: cicd.code });
  };
}

/** The catalogue error a thrown value stands for; undefined for a server fault. */
function toCicdError(error: unknown): CicdError | undefined {
  if (error instanceof CicdError) return error;
  const e = (error ?? {}) as { type?: string; status?: number; expose?: boolean; limit?: number; code?: string; message?: string };
  // router's decodeParam: URIError "Failed to decode param '<raw>'", status 400.
  if (error instanceof URIError) return errors.badPercentEncoding(/'(.*)'$/s.exec(e.message ?? "")?.[1] ?? "");
  switch (e.type) {
    case "entity.parse.failed":
      return errors.invalidArgument("body", "valid JSON");
    case "entity.too.large":
      return errors.payloadTooLarge(`${Math.round((e.limit ?? 0) / 1024)} KiB`);
    case "encoding.unsupported":
      return errors.unsupportedMediaType("Content-Encoding", "send the body uncompressed (no Content-Encoding, or identity)");
    case "charset.unsupported":
      return errors.unsupportedMediaType("charset", "send JSON as UTF-8 (Content-Type: application/json; charset=utf-8)");
    case "request.aborted":
      return errors.badRequest("the request body ended early");
    case "request.size.invalid":
      return errors.badRequest("the body's length does not match Content-Length");
  }
  // zlib's errors on a body that does not decompress (body-parser inflates gzip, deflate, br).
  if (typeof e.code === "string" && e.code.startsWith("Z_")) return errors.badRequest("the body could not be decompressed per its Content-Encoding");
  // Other client errors of express's stack (http-errors marks them expose): keep the status,
  // say it in our words rather than pass on their text.
  if (e.expose === true && typeof e.status === "number" && e.status >= 400 && e.status < 500) {
    return Object.assign(errors.badRequest(`the server refused it (HTTP ${e.status})`), { status: e.status });
  }
  return undefined;
}

function internal(logger: Logger, error: unknown): CicdError {
  logger.error("request failed", { error: error instanceof Error ? error.stack : String(error) });
  return new CicdError("INTERNAL", "Internal error; see the server log.");
}
