import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Whether two secrets (tokens, hashes, header values) are equal, in time that does not depend
 * on where they differ or on their lengths: both are hashed to SHA-256 first, so
 * `timingSafeEqual` always compares 32 bytes and a wrong length is not told apart early.
 */
export function sameSecret(given: string | Buffer, expected: string | Buffer): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function sha256(value: string | Buffer): Buffer {
  return createHash("sha256").update(value).digest();
}
