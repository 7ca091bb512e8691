import type { RequestHandler } from "express";
import { errors } from "../shared/errors.js";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * Refuses, with 415 and what to send instead, a request body the API would otherwise misread:
 * one sent with a Content-Encoding (the API takes plain bodies only: no client of ours
 * compresses, and an encoded body the server cannot decode must not reach the JSON parser), and
 * a POST/PUT/PATCH body that is not `application/json` (express would leave it unparsed and the
 * route would then complain about a missing field, which hides the real mistake). A request
 * without a body (no Content-Length or 0, not chunked) passes: cancel and an empty runner
 * create send none.
 */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (!hasBody(req.headers)) return next();
  const encoding = (req.get("content-encoding") ?? "").trim().toLowerCase();
  if (encoding !== "" && encoding !== "identity") {
    return next(errors.unsupportedMediaType(`Content-Encoding "${shorten(encoding)}"`, "send the body uncompressed (no Content-Encoding, or identity)"));
  }
  if (BODY_METHODS.has(req.method) && !req.is("application/json")) {
    const type = req.get("content-type");
    return next(
      errors.unsupportedMediaType(type ? `Content-Type "${shorten(type)}"` : "body without a Content-Type", "send JSON with `Content-Type: application/json`"),
    );
  }
  next();
};

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers["transfer-encoding"] !== undefined) return true;
  const length = Number(headers["content-length"]);
  return Number.isFinite(length) && length > 0;
}

/** Header values are the client's own text: shown, but never more than a line of it. */
function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
