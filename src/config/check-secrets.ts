import { existsSync } from "node:fs";
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
