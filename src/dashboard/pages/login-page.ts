import { html, type Html } from "../html.js";
import { layout } from "./layout.js";

/**
 * `/login`: the API token (the server's `CICD_API_TOKEN`). "Sign in with GitHub" (OAuth, when
 * the GitHub App is configured) goes in the marked place below, as a second way to a session of
 * kind "github" (store/session-store.ts).
 */
export function loginPage(options: { next: string; error?: string }): Html {
  return layout(
    { title: "Sign in" },
    html`<h1>Sign in</h1>
${options.error ? html`<p class="error" role="alert" id="login-error">${options.error}</p>` : ""}
<form method="post" action="/login" class="login">
<input type="hidden" name="next" value="${options.next}">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus${options.error ? html` aria-describedby="login-error"` : ""}>
<p class="hint">The server's <code>CICD_API_TOKEN</code> (or the token file it wrote in its data folder).</p>
<button type="submit">Sign in</button>
</form>
<!-- "Sign in with GitHub" goes here once the GitHub App's OAuth is wired (not yet). -->`,
  );
}
