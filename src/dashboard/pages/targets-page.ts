import type { Config } from "../../config/load-config.js";
import type { Build } from "../../manager/types.js";
import type { RunnerView } from "../../shared/api/runners.js";
import type { Session } from "../../store/session-store.js";
import { html, type Html } from "../html.js";
import { branchOf, buildLink, statusBadge, time } from "./format.js";
import { layout } from "./layout.js";

export interface TargetRow {
  name: string;
  repository: string | null;
  /** The newest build of each branch (or ref), newest first. */
  lastByBranch: Build[];
  /** Running runners of the target and the build each runs. */
  runners: RunnerView[];
}

/** The newest build per branch, from builds listed newest first. */
export function lastPerBranch(builds: readonly Build[]): Build[] {
  const seen = new Map<string, Build>();
  for (const build of builds) {
    const branch = branchOf(build.ref) ?? "(default branch)";
    if (!seen.has(branch)) seen.set(branch, build);
  }
  return [...seen.values()];
}

/** `/`: each target, the last build of each of its branches, and what its runner runs. */
export function targetsPage(config: Config, rows: readonly TargetRow[], session: Session): Html {
  return layout(
    { title: "Targets", current: "targets", session },
    html`<h1>Targets</h1>
<div id="live-targets" data-live>
${config.targets.length === 0 ? html`<p>No targets in cicd.yml yet.</p>` : ""}
${rows.map(
  (row) => html`<section class="target" aria-labelledby="target-${row.name}">
<h2 id="target-${row.name}"><a href="/builds?target=${encodeURIComponent(row.name)}">${row.name}</a>${row.repository ? html` <small>${row.repository}</small>` : ""}</h2>
<p class="runner-now">Runner: ${row.runners.length === 0 ? "none running" : row.runners.map((r, i) => html`${i > 0 ? ", " : ""}<a href="/runners#runner-${r.id}">${r.id}</a> runs ${r.build ? html`<a href="/builds/${encodeURIComponent(r.build)}">${r.build}</a>` : "no build"}`)}</p>
${row.lastByBranch.length === 0
  ? html`<p>No builds yet.</p>`
  : html`<table>
<caption class="visually-hidden">Last build of each branch of ${row.name}</caption>
<thead><tr><th scope="col">Branch</th><th scope="col">Status</th><th scope="col">Build</th><th scope="col">Queued</th><th scope="col">Finished</th></tr></thead>
<tbody>${row.lastByBranch.map((b) => html`<tr><td>${branchOf(b.ref) ?? "(default branch)"}</td><td>${statusBadge(b.status)}</td><td>${buildLink(b)}</td><td>${time(b.createdAt)}</td><td>${time(b.finishedAt)}</td></tr>`)}</tbody>
</table>`}
</section>`,
)}
</div>`,
  );
}
