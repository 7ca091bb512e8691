import { html, type Html } from "../html.js";
import type { Session } from "../../store/session-store.js";

export interface LayoutOptions {
  title: string;
  /** Which item of the navigation is this page (marked `aria-current`). */
  current?: "targets" | "builds" | "queue" | "runners";
  /** The signed-in session: its user is shown and its CSRF token goes in the sign-out form. */
  session?: Session;
}

/**
 * The page around every dashboard page: a skip link, the navigation, the sign-out form, one
 * stylesheet and one script of our own (no framework, no CDN: the first load is a few kB).
 */
export function layout(options: LayoutOptions, main: Html): Html {
  const nav = (id: NonNullable<LayoutOptions["current"]>, href: string, label: string) =>
    html`<li><a href="${href}"${options.current === id ? html` aria-current="page"` : ""}>${label}</a></li>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · cicd</title>
<link rel="stylesheet" href="/dashboard/app.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<a class="brand" href="/">cicd</a>
${options.session ? html`<nav aria-label="Main"><ul>${nav("targets", "/", "Targets")}${nav("builds", "/builds", "Builds")}${nav("queue", "/queue", "Queue")}${nav("runners", "/runners", "Runners")}</ul></nav>
<form class="signout" method="post" action="/logout"><input type="hidden" name="_csrf" value="${options.session.csrf}"><span>${options.session.who}</span> <button type="submit">Sign out</button></form>` : ""}
</header>
<main id="main" tabindex="-1">
${main}
</main>
</body>
</html>
`;
}
