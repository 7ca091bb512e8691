import { existsSync } from "node:fs";
import { errors } from "../shared/errors.js";
import { readSecretsFile, readSecretsFileSync } from "../shared/read-secrets.js";
import type { Target } from "./load-config.js";

/**
 * Reads every target's secrets once at config load, so a value too short to be masked (or a
 * malformed file) stops the server at start rather than leaking into a log or failing builds
 * later. A file that does not exist yet is left to the first build, which reads it and fails
 * with a clear error if it is still missing: secrets are often written by a deploy step after
 * the config, and the per-build read is what applies a changed file without a restart.
 */
export function checkSecrets(targets: readonly Target[]): void {
  for (const target of targets) {
    if (target.secrets && existsSync(target.secrets)) readSecretsFileSync(target.secrets, labelOf(target));
  }
}

/**
 * The target's secrets, read again for each build (a changed file applies without a restart).
 * A file that became invalid fails the build with the same error as at load, e.g.
 * `cicd.yml: targets[0].secrets: secrets/hello.env: KEY is 2 characters; …`.
 */
export async function readTargetSecrets(target: Target): Promise<Record<string, string>> {
  if (!target.secrets) return {};
  return readSecretsFile(target.secrets, labelOf(target));
}

function labelOf(target: Target): string {
  return target.secretsLabel ?? target.secrets ?? "secrets";
}

/**
 * The shortest API token (`CICD_API_TOKEN`) or webhook secret (`WEBHOOK_SECRET`) accepted. Each
 * guards the whole server (the token triggers builds and reads logs; the webhook secret makes a
 * request pass as GitHub's, and one signed delivery lets a short one be guessed offline).
 */
export const MIN_TOKEN_LENGTH = 16;

/** Throws CONFIG_INVALID when `value` (the setting `name` read from `source`) is too short; the message never holds the value. */
export function checkTokenLength(source: string, name: string, value: string): void {
  if (value.length >= MIN_TOKEN_LENGTH) return;
  const length = `${value.length} character${value.length === 1 ? "" : "s"}`;
  throw errors.configInvalid(source, name, `is ${length}; expected at least ${MIN_TOKEN_LENGTH} random characters. Make one with \`openssl rand -hex 32\``);
}
