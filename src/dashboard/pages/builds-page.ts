import type { Config } from "../../config/load-config.js";
import type { Build } from "../../manager/types.js";
import { BUILD_STATUSES } from "../../shared/api/builds.js";
import type { Session } from "../../store/session-store.js";
import { html, type Html } from "../html.js";
import { branchOf, buildLink, statusBadge, time } from "./format.js";
import { layout } from "./layout.js";

export interface BuildsQuery {
  target?: string;
  status?: Build["status"];
  branch?: string;
  page: number;
}

/** `/builds`: newest first, filtered by target, status and branch, a page at a time. */
export function buildsPage(config: Config, query: BuildsQuery, page: { builds: Build[]; more: boolean }, session: Session): Html {
  const link = (p: number) => {
    const params = new URLSearchParams();
    if (query.target) params.set("target", query.target);
    if (query.status) params.set("status", query.status);
    if (query.branch) params.set("branch", query.branch);
    if (p > 1) params.set("page", String(p));
    const text = params.toString();
    return text ? `/builds?${text}` : "/builds";
  };
  return layout(
    { title: "Builds", current: "builds", session },
    html`<h1>Builds</h1>
<form method="get" action="/builds" class="filters" role="search" aria-label="Filter builds">
<label>Target <select name="target"><option value="">all</option>${config.targets.map((t) => html`<option${t.name === query.target ? html` selected` : ""}>${t.name}</option>`)}</select></label>
<label>Status <select name="status"><option value="">all</option>${BUILD_STATUSES.map((s) => html`<option${s === query.status ? html` selected` : ""}>${s}</option>`)}</select></label>
<label>Branch <input name="branch" value="${query.branch ?? ""}" size="16"></label>
<button type="submit">Filter</button>
</form>
<div id="live-builds" data-live>
${page.builds.length === 0
  ? html`<p>No builds match.</p>`
  : html`<table>
<thead><tr><th scope="col">Build</th><th scope="col">Status</th><th scope="col">Branch</th><th scope="col">Commit</th><th scope="col">Trigger</th><th scope="col">Queued</th><th scope="col">Finished</th></tr></thead>
<tbody>${page.builds.map((b) => html`<tr><td>${buildLink(b)}</td><td>${statusBadge(b.status)}</td><td>${branchOf(b.ref) ?? "—"}</td><td><code>${(b.commit ?? b.sha ?? "").slice(0, 10) || "—"}</code></td><td>${b.trigger}</td><td>${time(b.createdAt)}</td><td>${time(b.finishedAt)}</td></tr>`)}</tbody>
</table>`}
</div>
<nav class="pages" aria-label="Pages">
${query.page > 1 ? html`<a href="${link(query.page - 1)}" rel="prev">Newer</a>` : ""}
<span>Page ${query.page}</span>
${page.more ? html`<a href="${link(query.page + 1)}" rel="next">Older</a>` : ""}
</nav>`,
  );
}
