import { randomBytes } from "node:crypto";

/**
 * A new random build key: 12 URL-safe characters (72 bits) that never begin with `-` or `_`.
 * Keys are typed as command-line arguments (`cicd logs KEY`, `--key KEY`), where a leading
 * `-` reads as an option; one key in 32 would otherwise begin with one of the two.
 */
export function newBuildKey(): string {
  for (;;) {
    const key = randomBytes(9).toString("base64url");
    if (/^[A-Za-z0-9]/.test(key)) return key;
  }
}
