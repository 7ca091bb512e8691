import type { Config } from "../../config/load-config.js";
import type { RunnerView } from "../../shared/api/runners.js";
import type { Session } from "../../store/session-store.js";
import { html, type Html } from "../html.js";
import { actionForm, time } from "./format.js";
import { layout } from "./layout.js";

/** Decisions shown per runner, newest first. */
const DECISIONS_SHOWN = 20;

/** Words for a decision's kind (the runner's own names are terse). */
const KIND_WORDS: Record<string, string> = {
  start: "started",
  exit: "exited",
  "mark-bad": "marked bad",
  "fall-back": "fell back",
  restart: "restarted",
  wait: "waiting",
  "no-good-build": "no good build",
};

/** `/runners`: each runner, what it runs, what it decided; Start per target with a run command, Stop per running runner. */
export function runnersPage(config: Config, runners: readonly RunnerView[], session: Session, canWrite: (target: string) => boolean = () => true): Html {
  const runnable = config.targets.filter((t) => t.run && canWrite(t.name));
  return layout(
    { title: "Runners", current: "runners", session },
    html`<h1>Runners</h1>
<section aria-labelledby="start-title">
<h2 id="start-title">Start a runner</h2>
${runnable.length === 0
  ? html`<p>No target has a <code>run</code> command in cicd.yml.</p>`
  : html`<ul class="start">${runnable.map((t) => html`<li><span>${t.name}</span> ${actionForm(`/targets/${encodeURIComponent(t.name)}/runners`, "Start", session.csrf)}</li>`)}</ul>`}
</section>
<div id="live-runners" data-live>
${runners.length === 0 ? html`<p>No runners yet.</p>` : ""}
${runners.map(
  (r) => html`<section class="runner" id="runner-${r.id}" aria-labelledby="runner-title-${r.id}">
<h2 id="runner-title-${r.id}">${r.target} <small><code>${r.id}</code></small></h2>
<dl class="summary">
<dt>State</dt><dd>${r.state}${r.phase ? html` (${r.phase === "backoff" ? "backing off" : r.phase})` : ""}</dd>
<dt>Current build</dt><dd>${r.build ? html`<a href="/builds/${encodeURIComponent(r.build)}">${r.build}</a>` : "none"}</dd>
<dt>Started</dt><dd>${time(r.createdAt)}</dd>
${r.stoppedAt ? html`<dt>Stopped</dt><dd>${time(r.stoppedAt)}</dd>` : ""}
<dt>Restarts</dt><dd>${r.restarts}</dd>
${r.pinned ? html`<dt>Pinned to</dt><dd>${r.pinned}</dd>` : ""}
</dl>
${r.state === "running" && canWrite(r.target) ? actionForm(`/runners/${encodeURIComponent(r.id)}/stop`, "Stop", session.csrf) : ""}
${r.decisions.length === 0
  ? html`<p>No decisions yet.</p>`
  : html`<table><caption>Decisions</caption><thead><tr><th scope="col">When</th><th scope="col">Decision</th><th scope="col">Build</th><th scope="col">Why</th></tr></thead>
<tbody>${[...r.decisions].reverse().slice(0, DECISIONS_SHOWN).map((d) => html`<tr><td>${time(d.at)}</td><td>${KIND_WORDS[d.kind] ?? d.kind}</td><td>${d.build ?? ""}</td><td>${d.message}</td></tr>`)}</tbody></table>`}
</section>`,
)}
</div>`,
  );
}
