import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** True when a Docker engine answers `docker info`. */
export async function dockerAnswers(): Promise<boolean> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * For suites that need Docker: resolves to true when an engine answers. Without one it
 * resolves to false (the suite skips) on a developer's machine, but throws under CI=true:
 * in CI a missing engine is a failure, never a silent skip.
 */
export async function requireDocker(): Promise<boolean> {
  if (await dockerAnswers()) return true;
  if (process.env.CI === "true") {
    throw new Error("CI=true but no Docker engine answers `docker info`; .ci/run should have started dockerd.");
  }
  return false;
}
