import type { Build } from "../../manager/types.js";
import { html, type Html } from "../html.js";

/** A status as a badge: a word (never colour alone) in a class the stylesheet colours. */
export function statusBadge(status: Build["status"]): Html {
  return html`<span class="status status-${status}" data-status="${status}">${status}</span>`;
}

/** A time in the page's words, with the exact ISO time for machines and tooltips. */
export function time(iso: string | null): Html {
  if (!iso) return html`<span class="none">—</span>`;
  return html`<time datetime="${iso}" title="${iso}">${iso.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>`;
}

/** `refs/heads/main` → `main`; tags and pull requests keep their full ref. */
export function branchOf(ref: string | null): string | null {
  if (ref === null) return null;
  return ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
}

export function buildLink(build: Build): Html {
  return html`<a href="/builds/${encodeURIComponent(build.key)}">${build.target} #${build.number}</a>`;
}

/** A hidden CSRF field and a button, as a POST form: every state-changing action is one. */
export function actionForm(action: string, label: string, csrf: string, fields: Record<string, string> = {}): Html {
  return html`<form method="post" action="${action}" class="action"><input type="hidden" name="_csrf" value="${csrf}">${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit">${label}</button></form>`;
}
