import type { Build } from "../../manager/types.js";
import type { Session } from "../../store/session-store.js";
import { html, type Html } from "../html.js";
import { branchOf, time } from "./format.js";
import { layout } from "./layout.js";

/** A queued build, its place in the queue (from 1) and why it waits. */
export interface Waiting {
  build: Build;
  position: number;
  why: string;
}

/**
 * Why a queued build waits: the slots are all taken, it is being given a builder, or it waits
 * for another try after an interruption (its reason says so).
 */
export function whyWaiting(build: Build, position: number, running: number, concurrency: number): string {
  if (build.reason && /retrying/.test(build.reason)) return `tried again after an interruption: ${build.reason}`;
  if (running < concurrency && position <= concurrency - running) return "starting: a builder is being made ready";
  return `waiting for a free slot (${running} of ${concurrency} builds running${position > 1 ? `, ${position - 1} ahead of it` : ""})`;
}

/** `/queue`: the builds waiting, in the order they will run, and why each waits. */
export function queuePage(waiting: Waiting[], options: { session: Session; running: number; concurrency: number }): Html {
  return layout(
    { title: "Queue", current: "queue", session: options.session },
    html`<h1>Queue</h1>
<div id="live-queue" data-live>
<p>${String(options.running)} of ${String(options.concurrency)} builds running; ${String(waiting.length)} waiting.</p>
${waiting.length
  ? html`<table><thead><tr><th scope="col">#</th><th scope="col">Build</th><th scope="col">Branch</th><th scope="col">Queued</th><th scope="col">Why it waits</th></tr></thead>
<tbody>${waiting.map((w) => html`<tr><td>${String(w.position)}</td><td><a href="/builds/${encodeURIComponent(w.build.key)}">${w.build.target} #${String(w.build.number)}</a></td><td>${branchOf(w.build.ref) ?? "—"}</td><td>${time(w.build.createdAt)}</td><td>${w.why}</td></tr>`)}</tbody></table>`
  : html`<p>Nothing is waiting.</p>`}
</div>`,
  );
}
