import type { RequestHandler } from "express";
import { errors } from "../shared/errors.js";
import { sameSecret } from "../shared/same-secret.js";

/** Requires `Authorization: Bearer <token>`; compares in constant time. */
export function bearerAuth(token: string): RequestHandler {
  return (req, _res, next) => {
    const given = bearerToken(req.get("authorization"));
    if (given === undefined || !sameSecret(given, token)) return next(errors.unauthorized());
    next();
  };
}

/** The token of an `Authorization: Bearer <token>` header; undefined for any other header. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim();
}
