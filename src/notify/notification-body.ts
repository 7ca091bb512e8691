import { createHmac } from "node:crypto";
import type { Build } from "../manager/types.js";

/** What a notification tells: a build's final status, or a runner that marked it bad and fell back. */
export type NotifyEvent = "succeeded" | "failed" | "error" | "fallback";

/** The exact bytes POSTed to a hook (what the signature covers) for its format. */
export function notificationBody(format: "generic" | "slack", event: NotifyEvent, build: Build, publicUrl?: string): string {
  if (format === "slack") return JSON.stringify({ text: slackText(event, build, publicUrl) });
  return JSON.stringify({ event, build });
}

/** `X-Cicd-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the body under the hook's secret. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * One line for Slack's incoming webhooks: target, number, status, outcome and, with
 * `publicUrl`, a link to the build. Slack reads `&`, `<` and `>` as markup, so they are escaped
 * in everything that came from a build (a reason can hold any text).
 */
export function slackText(event: NotifyEvent, build: Build, publicUrl?: string): string {
  const name = `${build.target} #${build.number}`;
  const label = publicUrl ? `<${publicUrl.replace(/\/+$/, "")}/builds/${encodeURIComponent(build.key)}|${slackEscape(name)}>` : slackEscape(name);
  const head =
    event === "fallback"
      ? `${label}: a runner marked this build bad and fell back to an older good build`
      : `${label} ${build.status}${build.outcome && build.outcome !== build.status ? ` (${build.outcome})` : ""}`;
  const where = build.ref ? ` on ${slackEscape(build.ref)}` : "";
  const commit = build.commit ? ` at ${build.commit.slice(0, 7)}` : "";
  const reason = build.reason ? `: ${slackEscape(build.reason)}` : "";
  return `${head}${where}${commit}${reason}`;
}

function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
