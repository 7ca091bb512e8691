import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { Router, type Request } from "express";
import { parse as parseYaml } from "yaml";
import type { Logger } from "../shared/logger.js";

export interface AppSetupOptions {
  /** app.yml: the manifest the app is registered from. */
  manifestFile: string;
  /** Where the credentials go (`.env` in the folder the server starts in). */
  envFile: string;
  /** The server's address as GitHub must reach it (`publicUrl`); default: the request's own. */
  publicUrl?: string;
  /** github.com, or a GitHub Enterprise Server (`GHE_HOST`, `GHE_PROTOCOL`). */
  gheHost?: string;
  gheProtocol?: string;
  logger: Logger;
}

/**
 * Probot's set-up flow for a server without a GitHub App (APP_ID unset): `GET /setup` shows a
 * page whose button registers the app from app.yml with GitHub's manifest flow (the hook and
 * home URLs pointed at this server), and `GET /setup/callback` trades GitHub's one-time code for
 * the new app's id, key and webhook secret and writes them to `.env` (0600; what it had is
 * kept). A `state` of our own guards the callback; once `.env` holds an APP_ID the flow is closed.
 */
export function appSetup(o: AppSetupOptions): Router {
  const router = Router();
  const states = new Set<string>();
  const web = o.gheHost ? `${o.gheProtocol ?? "https"}://${o.gheHost}` : "https://github.com";
  const api = o.gheHost ? `${web}/api/v3` : "https://api.github.com";
  const done = () => /^APP_ID=\S/m.test(existsSync(o.envFile) ? readFileSync(o.envFile, "utf8") : "");

  router.get("/setup", (req, res) => {
    if (done()) return void res.type("html").send(page("The GitHub App is registered", "<p>.env holds its credentials; restart cicd to use it.</p>"));
    const state = randomBytes(16).toString("hex");
    states.add(state);
    const base = (o.publicUrl ?? origin(req)).replace(/\/+$/, "");
    const manifest = {
      ...(parseYaml(readFileSync(o.manifestFile, "utf8")) as Record<string, unknown>),
      url: base,
      hook_attributes: { url: `${base}/api/github/webhooks`, active: true },
      redirect_url: `${base}/setup/callback`,
      // Where "Sign in with GitHub" on the dashboard comes back to (the app's OAuth client).
      callback_urls: [`${base}/login/github/callback`],
    };
    const org = typeof req.query.org === "string" && /^[A-Za-z0-9-]{1,39}$/.test(req.query.org) ? req.query.org : undefined;
    const action = `${web}${org ? `/organizations/${org}` : ""}/settings/apps/new?state=${state}`;
    res.type("html").send(page("Register cicd as a GitHub App", `
<p>This server has no GitHub App yet (APP_ID is unset). The button registers one from <code>app.yml</code>,
with its webhooks sent to <code>${escape(base)}/api/github/webhooks</code>. GitHub then sends you back
here, and cicd writes the app's credentials to <code>.env</code>.</p>
<form action="${escape(action)}" method="post">
<input type="hidden" name="manifest" value="${escape(JSON.stringify(manifest))}">
<button type="submit">Register the GitHub App</button>
</form>
<p>For an organization: <code>/setup?org=NAME</code>. The server must be reachable at the address above.</p>`));
  });

  router.get("/setup/callback", async (req, res) => {
    const code = typeof req.query.code === "string" ? req.query.code : "";
    const state = typeof req.query.state === "string" ? req.query.state : "";
    if (done()) return void res.status(409).type("html").send(page("Already registered", "<p>.env already holds an APP_ID.</p>"));
    if (!states.delete(state) || !/^[A-Za-z0-9_-]{1,100}$/.test(code)) {
      return void res.status(400).type("html").send(page("Not from this server's set-up", '<p>Start again at <a href="/setup">/setup</a>.</p>'));
    }
    const app = await convert(`${api}/app-manifests/${code}/conversions`);
    if (!app.ok) {
      o.logger.error(`GitHub App registration failed: ${app.why}`);
      return void res.status(502).type("html").send(page("GitHub did not register the app", `<p>${escape(app.why)}</p>`));
    }
    writeCredentials(o.envFile, {
      APP_ID: String(app.id),
      PRIVATE_KEY: JSON.stringify(app.pem),
      WEBHOOK_SECRET: app.webhook_secret,
      ...(app.client_id ? { GITHUB_CLIENT_ID: app.client_id } : {}),
      ...(app.client_secret ? { GITHUB_CLIENT_SECRET: app.client_secret } : {}),
    });
    o.logger.info(`GitHub App "${app.name}" (id ${app.id}) registered; its credentials are in ${path.basename(o.envFile)}. Restart cicd to use it.`);
    res.type("html").send(page(`GitHub App "${app.name}" registered`, `
<p>Its credentials are in <code>.env</code>. Restart cicd to use them, then
<a href="${escape(app.html_url)}/installations/new">install the app</a> on your repositories.</p>`));
  });
  return router;
}

interface Conversion {
  id: number;
  name: string;
  html_url: string;
  pem: string;
  webhook_secret: string;
  client_id?: string;
  client_secret?: string;
}

/** POST …/app-manifests/:code/conversions: GitHub's answer, or why not (never its secrets). */
function convert(url: string): Promise<({ ok: true } & Conversion) | { ok: false; why: string }> {
  const target = new URL(url);
  const transport = target.protocol === "http:" ? http : https;
  return new Promise((resolve) => {
    const request = transport.request(target, { method: "POST", headers: { accept: "application/vnd.github+json", "user-agent": "cicd", "content-length": 0 }, timeout: 15_000 }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (c: string) => (text += c));
      response.once("end", () => {
        let body: Partial<Conversion> & { message?: string } = {};
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          // Said below.
        }
        if (response.statusCode === 201 && body.id && body.pem && body.webhook_secret) return resolve({ ok: true, ...(body as Conversion) });
        resolve({ ok: false, why: `GitHub answered ${response.statusCode}${body.message ? `: ${body.message}` : ""} (a code works once and for an hour; start again at /setup)` });
      });
    });
    request.once("timeout", () => request.destroy(new Error("no answer within 15 s")));
    request.once("error", (error) => resolve({ ok: false, why: `GitHub could not be reached: ${error.message}` }));
    request.end();
  });
}

/** Adds the values to the env file (0600), keeping its other lines, replacing these keys. */
function writeCredentials(file: string, values: Record<string, string>): void {
  const kept = (existsSync(file) ? readFileSync(file, "utf8") : "").split("\n").filter((line) => line && !Object.keys(values).some((k) => line.startsWith(`${k}=`)));
  const lines = [...kept, "# Written by cicd's GitHub App set-up (/setup).", ...Object.entries(values).map(([k, v]) => `${k}=${v}`)];
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  // `mode` applies only to a new file: an existing .env is tightened too (it now holds a key).
  chmodSync(file, 0o600);
}

function origin(req: Request): string {
  return `${req.protocol}://${req.get("host") ?? "localhost"}`;
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
