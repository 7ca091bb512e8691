import { randomBytes } from "node:crypto";
import { errors } from "../shared/errors.js";
import { BUILD_KEY } from "../shared/safe-path.js";

/** A random build key (12 URL-safe characters, 72 bits). */
export function newBuildKey(): string {
  return randomBytes(9).toString("base64url");
}

export function assertBuildKey(key: string): string {
  if (!BUILD_KEY.test(key)) throw errors.invalidArgument("--key", "a build key of 6-64 letters, digits, - or _", key);
  return key;
}
