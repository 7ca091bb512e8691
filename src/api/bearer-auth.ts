import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { errors } from "../shared/errors.js";

/** Requires `Authorization: Bearer <token>`; compares in constant time. */
export function bearerAuth(token: string): RequestHandler {
  const expected = digest(token);
  return (req, _res, next) => {
    const header = req.get("authorization") ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) return next(errors.unauthorized());
    next();
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
