import type { Build } from "../manager/types.js";
import { OUTCOMES, type Conclusion } from "../shared/outcome.js";
import { formatDuration } from "../shared/duration.js";
import { deployAction, deploymentLines, markedBadOf } from "./deployment-notes.js";
import { parseAnnotations, stripAnsi, type Annotation } from "./parse-annotations.js";
import { readLogTail } from "./read-log-tail.js";

/** GitHub's limit for a check run's output.summary and output.text, in characters. */
export const OUTPUT_LIMIT = 65_535;

export type { Conclusion };

/** Everything a check run should show for a build at one moment. */
export interface CheckRunState {
  status: "queued" | "in_progress" | "completed";
  conclusion?: Conclusion;
  started_at?: string;
  completed_at?: string;
  output: { title: string; summary: string; text?: string };
  /** All annotations; the reporter sends them 50 per request. */
  annotations: Annotation[];
  actions?: { label: string; identifier: string; description: string }[];
}

export const rebuildAction = { label: "Rebuild", identifier: "rebuild", description: "Build this commit again" };
const untrustedLine = "⚠️ Built without the target's secrets and token: this pull request comes from a fork.";

/**
 * Why the manager refused to run a build until someone acts (`meta.actionRequired`, set on a
 * build it cancelled: an untrusted fork build on the local executor), or undefined.
 */
export function actionRequiredOf(build: Build): string | undefined {
  const value = build.meta?.actionRequired as { reason?: unknown } | undefined;
  if (build.outcome !== "untrusted_refused" && (build.status !== "cancelled" || !value || typeof value !== "object")) return undefined;
  if (!value || typeof value !== "object") return build.reason ?? "The build needs a maintainer's approval to run.";
  return typeof value.reason === "string" && value.reason.trim() ? value.reason : "The build needs a maintainer's approval to run.";
}

/** What a maintainer can do about a build refused for trust (shown on its check run). */
export const allowUntrustedHelp =
  "To build pull requests from forks, run builds in containers (`executor: docker` in cicd.yml), " +
  "or, if every fork may run code as the server's own user with its files and secrets in reach, " +
  "set `untrusted: allow` at the top level of cicd.yml. Then restart cicd and choose Rebuild.";

/** The check run's conclusion: the build's outcome says it (shared/outcome.ts is the table). */
export function conclusionOf(build: Build): Conclusion {
  if (build.outcome) return OUTCOMES[build.outcome].conclusion;
  // A build finished without an outcome (none is, since migration 5 gave the old ones theirs).
  if (build.status === "succeeded") return "success";
  if (actionRequiredOf(build) !== undefined) return "action_required";
  return build.status === "cancelled" ? "cancelled" : "failure";
}

export interface CheckRunStateOptions {
  /** The build's target has a runner: a successful build gets a "Deploy" button. */
  deployable?: boolean;
  /** Where people read another build (its log under `publicUrl`), for links between builds. */
  buildUrl?: (key: string) => string;
}

/**
 * The check run for `build` as it stands. Finished builds read their log (already masked by the
 * manager) for the output text and the annotations; queued and running ones do not. A build a
 * runner marked bad says so in its title and summary and loses its "Deploy" button.
 */
export async function checkRunState(build: Build, logFile: string, options: CheckRunStateOptions = {}): Promise<CheckRunState> {
  const note = build.untrusted ? `\n\n${untrustedLine}` : "";
  if (build.status === "queued") {
    return { status: "queued", output: { title: "Queued", summary: `Build \`${build.key}\` is waiting for a free builder.${note}` }, annotations: [] };
  }
  if (build.status === "running") {
    return {
      status: "in_progress",
      started_at: build.startedAt ?? undefined,
      output: { title: "Building", summary: `Build \`${build.key}\` is running${build.commit ? ` on \`${build.commit.slice(0, 12)}\`` : ""}.${note}` },
      annotations: [],
    };
  }
  const { text: tail, truncated } = await readLogTail(logFile, 2 * 1024 * 1024).catch((error: unknown) => ({
    text: `(the build log could not be read: ${(error as Error).message})`,
    truncated: false,
  }));
  const log = stripAnsi(tail);
  const conclusion = conclusionOf(build);
  return {
    status: "completed",
    conclusion,
    started_at: build.startedAt ?? undefined,
    completed_at: build.finishedAt ?? new Date().toISOString(),
    output: { title: titleOf(build, conclusion), summary: summaryOf(build, options).slice(0, OUTPUT_LIMIT), text: logText(log, truncated) },
    annotations: parseAnnotations(log, { prefixes: workspacePrefixes(build) }),
    actions: actionsOf(build, conclusion, options),
  };
}

function actionsOf(build: Build, conclusion: Conclusion, options: CheckRunStateOptions): CheckRunState["actions"] {
  // A fork's build never gets the button: it ran without trust and must not reach a runner by a click.
  const deploy = options.deployable && conclusion === "success" && !build.untrusted && !markedBadOf(build);
  return deploy ? [rebuildAction, deployAction] : [rebuildAction];
}

function titleOf(build: Build, conclusion: Conclusion): string {
  const took = durationOf(build);
  const named = build.outcome ? OUTCOMES[build.outcome].title : build.status === "error" ? "Build error" : "Build failed";
  const built =
    conclusion === "success" ? `Build succeeded${took ? ` in ${took}` : ""}`
    : conclusion === "cancelled" ? named
    : conclusion === "action_required" ? "Not built: a maintainer must allow builds from forks"
    : `${named}${build.reason ? `: ${build.reason}` : ""}`;
  const numbered = build.number ? `#${build.number} · ${built}` : built;
  const title = markedBadOf(build) ? `Marked bad by the runner · ${numbered}` : numbered;
  return title.length > 200 ? `${title.slice(0, 197)}...` : title;
}

function summaryOf(build: Build, options: CheckRunStateOptions): string {
  const lines: string[] = [];
  const took = durationOf(build);
  lines.push(`Build \`${build.key}\`${build.commit ? ` of \`${build.commit.slice(0, 12)}\`` : ""}${took ? ` took ${took}` : ""}.`);
  const refused = actionRequiredOf(build);
  if (refused !== undefined) return [refused, "", allowUntrustedHelp].join("\n");
  const newer = build.outcome === "superseded" && typeof build.meta.supersededBy === "string" ? build.meta.supersededBy : undefined;
  if (newer) lines.push("", `Superseded by build ${options.buildUrl ? `[\`${newer}\`](${options.buildUrl(newer)})` : `\`${newer}\``}: a newer trigger of the same branch or pull request.`);
  // What happened after the build (marked bad, deploys) first: it is the news, and a long summary is cut at the end.
  lines.push(...deploymentLines(build));
  if (build.reason) lines.push("", `**Reason:** ${build.reason}`);
  if (build.commands.length) {
    lines.push("", "| # | Command | Exit code | Duration |", "| --- | --- | --- | --- |");
    build.commands.forEach((c, i) =>
      lines.push(`| ${i + 1} | ${cell(c.command)} | ${c.exitCode ?? "killed"} | ${formatDuration(c.durationMs)} |`),
    );
  }
  if (build.artifacts.length) {
    lines.push("", "**Artifacts**", "");
    for (const a of build.artifacts) lines.push(`- \`${a}\`${build.sizes[a] === undefined ? "" : ` (${formatBytes(build.sizes[a])})`}`);
  }
  if (build.untrusted) lines.push("", untrustedLine);
  return lines.join("\n");
}

/** The log tail in a code fence, cut from the front to fit GitHub's limit. */
function logText(log: string, truncated: boolean): string | undefined {
  if (!log.trim()) return undefined;
  const longestTicks = Math.max(0, ...[...log.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longestTicks + 1));
  const head = "Last part of the log (earlier output left out):\n\n";
  const room = OUTPUT_LIMIT - head.length - 2 * fence.length - 16;
  let body = log.replace(/\n+$/, "");
  if (body.length > room) {
    body = body.slice(body.length - room);
    body = body.slice(body.indexOf("\n") + 1);
    truncated = true;
  }
  return `${truncated ? head : ""}${fence}text\n${body}\n${fence}`;
}

function workspacePrefixes(build: Build): string[] {
  const workspace = build.meta.workspace;
  return typeof workspace === "string" ? [workspace] : [];
}

function durationOf(build: Build): string | undefined {
  if (!build.startedAt || !build.finishedAt) return undefined;
  const ms = Date.parse(build.finishedAt) - Date.parse(build.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? formatDuration(ms) : undefined;
}

function cell(command: string): string {
  const short = command.length > 120 ? `${command.slice(0, 117)}...` : command;
  return `<code>${short.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/\|/g, "&#124;").replace(/\n/g, " ")}</code>`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
