import type { Build } from "../../manager/types.js";
import { FINAL_STATUSES } from "../../manager/types.js";
import type { Session } from "../../store/session-store.js";
import { html, type Html } from "../html.js";
import { actionForm, branchOf, statusBadge, time } from "./format.js";
import { layout } from "./layout.js";

/**
 * `/builds/:key`: what the build is and how it went, its log (live while it runs, through
 * `/builds/:key/log?follow=1`), its artifacts, and Re-run, Cancel and (a good build of a target
 * with a run command) Deploy.
 */
export function buildPage(build: Build, options: { deployable: boolean; session: Session; githubUrl: string; /** The session may press the buttons (write permission). */ canAct: boolean }): Html {
  const key = encodeURIComponent(build.key);
  const commit = build.commit ?? build.sha;
  const commitCell = commit
    ? build.repository
      ? html`<a href="${options.githubUrl}/${build.repository}/commit/${commit}"><code>${commit}</code></a>`
      : html`<code>${commit}</code>`
    : html`<span class="none">the branch head, once fetched</span>`;
  const ended = FINAL_STATUSES.includes(build.status);
  const csrf = options.session.csrf;
  return layout(
    { title: `${build.target} #${build.number}`, current: "builds", session: options.session },
    html`<h1>${build.target} #${build.number} ${statusBadge(build.status)}</h1>
<div id="live-summary" data-live>
<dl class="summary">
<dt>Status</dt><dd>${build.status}${build.outcome && build.outcome !== build.status ? html` (${build.outcome})` : ""}</dd>
${build.reason ? html`<dt>Reason</dt><dd>${build.reason}</dd>` : ""}
<dt>Branch or ref</dt><dd>${branchOf(build.ref) ?? "—"}</dd>
<dt>Commit</dt><dd>${commitCell}</dd>
<dt>Trigger</dt><dd>${build.trigger}${build.pullRequest ? html` (pull request #${build.pullRequest}${build.untrusted ? ", untrusted" : ""})` : ""}</dd>
<dt>Queued</dt><dd>${time(build.createdAt)}</dd>
<dt>Started</dt><dd>${time(build.startedAt)}</dd>
<dt>Finished</dt><dd>${time(build.finishedAt)}</dd>
<dt>Attempts</dt><dd>${build.attempts}</dd>
<dt>Number</dt><dd>${build.number} <small>(key <code>${build.key}</code>)</small></dd>
</dl>
${options.canAct
  ? html`<div class="actions">
${actionForm(`/builds/${key}/rerun`, "Re-run", csrf)}
${ended ? "" : actionForm(`/builds/${key}/cancel`, "Cancel", csrf)}
${options.deployable && build.status === "succeeded" ? actionForm(`/builds/${key}/deploy`, "Deploy", csrf) : ""}
</div>`
  : ""}
<section aria-labelledby="artifacts-title">
<h2 id="artifacts-title">Artifacts</h2>
${build.status === "succeeded" && build.artifacts.length > 0
  ? html`<ul class="artifacts">${build.artifacts.map((name) => html`<li><a href="/builds/${key}/artifacts/${encodeURIComponent(name)}" download>${name}</a> <small>${formatSize(build.sizes[name])}</small></li>`)}</ul>`
  : html`<p>${build.status === "succeeded" ? "None." : "Once the build has succeeded."}</p>`}
</section>
${notificationsOf(build).length
  ? html`<section aria-labelledby="notify-title">
<h2 id="notify-title">Notifications</h2>
<ul class="notifications">${notificationsOf(build).map((n) => html`<li>${n.event} to <code>${n.host}</code>: ${n.status}${n.httpStatus ? html` (HTTP ${String(n.httpStatus)})` : n.error ? html` (${n.error})` : ""}, ${String(n.attempts)} ${n.attempts === 1 ? "try" : "tries"}, ${time(n.at)}</li>`)}</ul>
</section>`
  : ""}
</div>
<section aria-labelledby="log-title" class="log-section">
<h2 id="log-title">Log</h2>
<p class="log-tools"><a href="/builds/${key}/log" download="${build.target}-${build.number}.log">Download raw log</a> <span id="log-state" aria-live="polite"></span></p>
<div id="log" class="log" role="log" aria-labelledby="log-title" tabindex="0" data-stream="/builds/${key}/log?follow=1"></div>
<noscript><p>The live log needs JavaScript; <a href="/builds/${key}/log">read the raw log</a>.</p></noscript>
</section>`,
  );
}

/** The build's notification deliveries (`meta.notifications`, kept by the notifier: hosts only, never URLs). */
function notificationsOf(build: Build): { host: string; event: string; status: string; attempts: number; httpStatus?: number; error?: string; at: string }[] {
  const list = build.meta.notifications;
  return Array.isArray(list) ? list.filter((n): n is { host: string; event: string; status: string; attempts: number; at: string } => typeof n === "object" && n !== null && typeof (n as { host?: unknown }).host === "string") : [];
}

function formatSize(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
