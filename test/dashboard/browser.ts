import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Debian's chromium (`apt-get install -y chromium`; .ci/run installs it in CI). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Whether the browser tests can run here. Without chromium they are skipped on a developer's
 * machine, but in CI (`CI=true`) a missing browser is a failure: the dashboard must not go
 * untested unnoticed.
 */
export function browserAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function mustHaveBrowser(): boolean {
  return process.env.CI === "true";
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}
