import { html, type Html } from "../html.js";
import { layout } from "./layout.js";

/**
 * `/login`: the API token (the server's `CICD_API_TOKEN`), and "Sign in with GitHub" (OAuth,
 * github-sign-in.ts) when the GitHub App and its OAuth client are configured (`github`).
 */
export function loginPage(options: { next: string; error?: string; github?: boolean }): Html {
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
${options.github ? html`<p class="login-github"><a class="button" href="/login/github">Sign in with GitHub</a></p>
<p class="hint">With GitHub you see the targets of repositories you can read, and their buttons work where you can push.</p>` : ""}`,
  );
}
