import { createSign } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { GitHubSettings } from "./github-settings.js";

export type AppIdentity = { ok: true; id: number; name: string; slug: string } | { ok: false; why: string };

/**
 * Asks GitHub who the configured app is (`GET /app`, signed with the app's key), so the server
 * can say at start "GitHub App <name> connected" — or why not — instead of assuming it. Uses
 * node:crypto and node:http(s) alone: loading Octokit for one request would hold its memory in a
 * server that may never need it. Never throws; never puts the key or the token in `why`.
 */
export async function appIdentity(settings: Pick<GitHubSettings, "appId" | "privateKey" | "baseUrl">, timeoutMs = 10_000): Promise<AppIdentity> {
  let jwt: string;
  try {
    jwt = appJwt(settings.appId, settings.privateKey);
  } catch {
    return { ok: false, why: "the private key could not sign a token (is PRIVATE_KEY a PEM RSA key?)" };
  }
  const url = new URL(`${settings.baseUrl.replace(/\/+$/, "")}/app`);
  const transport = url.protocol === "http:" ? http : https;
  return new Promise((resolve) => {
    const request = transport.get(url, { headers: { authorization: `Bearer ${jwt}`, accept: "application/vnd.github+json", "user-agent": "cicd" }, timeout: timeoutMs }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (c: string) => (text += c.length + text.length < 65_536 ? c : ""));
      response.once("end", () => {
        const status = response.statusCode ?? 0;
        if (status === 200) {
          const app = parse(text);
          return resolve({ ok: true, id: Number(app.id ?? settings.appId), name: String(app.name ?? ""), slug: String(app.slug ?? "") });
        }
        const message = String(parse(text).message ?? "").slice(0, 200);
        resolve({ ok: false, why: status === 401 ? `GitHub refused the app's credentials (401${message ? `: ${message}` : ""}); check APP_ID and PRIVATE_KEY` : `GitHub answered ${status}${message ? `: ${message}` : ""}` });
      });
    });
    request.once("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.once("error", (error) => resolve({ ok: false, why: `GitHub could not be reached at ${url.origin}: ${error.message}` }));
  });
}

/** A GitHub App's JWT (RS256): issued a minute ago to allow for clock drift, valid nine minutes. */
function appJwt(appId: number, privateKey: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iat: now - 60, exp: now + 540, iss: appId })}`;
  const signature = createSign("RSA-SHA256").update(unsigned).sign(privateKey, "base64url");
  return `${unsigned}.${signature}`;
}

function parse(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
