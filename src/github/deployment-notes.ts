import type { Build, BuildService, MarkedBadMeta } from "../manager/types.js";

/** One click on a check run's "Deploy" button and how it ended, kept in `build.meta.deploys`. */
export interface DeployNote {
  at: string;
  /** GitHub login of the user who clicked. */
  by: string;
  ok: boolean;
  message: string;
}

/** Deploy notes a check run shows (the newest ones; older ones drop off). */
export const MAX_DEPLOY_NOTES = 5;

export const deployAction = { label: "Deploy", identifier: "deploy", description: "Run this build on the target's runner" };

export function markedBadOf(build: Build): MarkedBadMeta | undefined {
  const m = build.meta.markedBad as Partial<MarkedBadMeta> | undefined;
  return m && typeof m.at === "string" ? { at: m.at, reason: m.reason ?? null, exitCode: m.exitCode ?? null, signal: m.signal ?? null } : undefined;
}

export function deployNotesOf(build: Build): DeployNote[] {
  const notes = build.meta.deploys;
  return Array.isArray(notes) ? (notes as DeployNote[]).filter((n) => n && typeof n.message === "string") : [];
}

/** Keeps `note` with the build (the newest MAX_DEPLOY_NOTES stay). */
export function addDeployNote(service: Pick<BuildService, "get" | "setMeta">, key: string, note: DeployNote): void {
  const build = service.get(key);
  if (!build) return;
  service.setMeta(key, { deploys: [...deployNotesOf(build), note].slice(-MAX_DEPLOY_NOTES) });
}

/**
 * Summary lines about the build's life after it was built: marked bad by a runner (when and
 * why) and the deploys asked for from the check run. Empty when there is nothing to say.
 */
export function deploymentLines(build: Build): string[] {
  const lines: string[] = [];
  const bad = markedBadOf(build);
  if (bad) {
    const exit = bad.signal ? `killed by ${bad.signal}` : bad.exitCode !== null ? `exit code ${bad.exitCode}` : undefined;
    const why = [exit, bad.reason].filter(Boolean).join("; ");
    lines.push("", `⛔ **Marked bad by the runner** at ${bad.at}${why ? ` (${why})` : ""}. Runners no longer start this build and fall back to an older good one.`);
  }
  const deploys = deployNotesOf(build);
  if (deploys.length) {
    lines.push("", "**Deploys**", "");
    for (const d of deploys) lines.push(`- ${d.at} by @${d.by}: ${d.ok ? "✅" : "❌"} ${oneLine(d.message)}`);
  }
  return lines;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}
