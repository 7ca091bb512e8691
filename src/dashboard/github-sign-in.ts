import { randomBytes } from "node:crypto";
import { Router, type Request, type Response } from "express";
import type { Config } from "../config/load-config.js";
import type { Logger } from "../shared/logger.js";
import { sameSecret } from "../shared/same-secret.js";
import type { SessionStore } from "../store/session-store.js";
import type { Html } from "./html.js";
import { messagePage } from "./pages/message-page.js";
import { readCookie, setSessionCookie } from "./session-auth.js";

/** The GitHub App's OAuth client, and where GitHub (or GitHub Enterprise) is. */
export interface GitHubSignIn {
  clientId: string;
  clientSecret: string;
  /** `https://github.com`, or `<GHE_PROTOCOL>://<GHE_HOST>`: where users authorize. */
  webUrl: string;
  /** `https://api.github.com`, or `<web>/api/v3`. */
  apiUrl: string;
}

/**
 * The sign-in's settings from the server's environment: only when the GitHub App (`APP_ID`) and
 * its OAuth client (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`, which `/setup` writes) are set.
 */
export function gitHubSignInSettings(env: {
  APP_ID?: string;
  GITHUB_CLIENT_ID?: string;
  GITHUB_CLIENT_SECRET?: string;
  GHE_HOST?: string;
  GHE_PROTOCOL?: string;
}): GitHubSignIn | undefined {
  if (!env.APP_ID || !env.GITHUB_CLIENT_ID || !env.GITHUB_CLIENT_SECRET) return undefined;
  const webUrl = env.GHE_HOST ? `${env.GHE_PROTOCOL ?? "https"}://${env.GHE_HOST}` : "https://github.com";
  return {
    clientId: env.GITHUB_CLIENT_ID,
    clientSecret: env.GITHUB_CLIENT_SECRET,
    webUrl,
    apiUrl: env.GHE_HOST ? `${webUrl}/api/v3` : "https://api.github.com",
  };
}

/** The OAuth state's cookie: random, HttpOnly, sent back only to the callback, for 10 minutes. */
const STATE_COOKIE = "cicd_oauth_state";
const STATE_PATH = "/login/github";
const STATE_TTL_S = 600;
/** Each request to GitHub during sign-in gives up after this long (the user waits on it). */
const GITHUB_TIMEOUT_MS = 10_000;

/** A GitHub sign-in that did not succeed; its message is the user's (never a token). */
class SignInFailed extends Error {}

/**
 * `GET /login/github` sends the browser to GitHub's authorize page with a random `state` (kept
 * in a short-lived HttpOnly cookie); `GET /login/github/callback` checks it, trades the code for
 * the user's token, reads who the user is and their permission on the repository of every
 * target, and opens a session of kind "github" holding `{login, repos}`. The user's token is
 * used for those few requests and then dropped: it is never stored or logged, so permissions
 * are the ones of the moment of sign-in (signing in again refreshes them).
 */
export function gitHubSignInRoutes(deps: {
  github: GitHubSignIn;
  config: Config;
  sessions: SessionStore;
  logger: Logger;
  page: (res: Response, body: Html, status?: number) => void;
}): Router {
  const { github, config, sessions, logger, page } = deps;
  const router = Router();
  const callbackUrl = (req: Request) => `${config.publicUrl ? new URL(config.publicUrl).origin : `${req.protocol}://${req.host}`}/login/github/callback`;

  router.get("/login/github", (req, res) => {
    const state = randomBytes(32).toString("base64url");
    res.append("set-cookie", `${STATE_COOKIE}=${state}; Path=${STATE_PATH}; HttpOnly; SameSite=Lax; Max-Age=${STATE_TTL_S}${req.secure ? "; Secure" : ""}`);
    const url = new URL("/login/oauth/authorize", github.webUrl);
    url.searchParams.set("client_id", github.clientId);
    url.searchParams.set("redirect_uri", callbackUrl(req));
    url.searchParams.set("state", state);
    res.set("cache-control", "no-store").redirect(303, url.toString());
  });

  router.get("/login/github/callback", async (req, res) => {
    const expected = readCookie(req.get("cookie"), STATE_COOKIE);
    const state = typeof req.query.state === "string" ? req.query.state : "";
    const code = typeof req.query.code === "string" ? req.query.code : "";
    res.append("set-cookie", `${STATE_COOKIE}=; Path=${STATE_PATH}; HttpOnly; SameSite=Lax; Max-Age=0${req.secure ? "; Secure" : ""}`);
    // Without the state this browser was given, the callback could sign a victim in under
    // someone else's GitHub account (login CSRF).
    if (!expected || !state || !sameSecret(state, expected)) {
      logger.warn("GitHub sign-in refused: wrong or missing state", { ip: req.ip });
      return page(res, messagePage("Refused", "This sign-in did not start on this server (its state is missing or wrong). Sign in again.", "/login"), 403);
    }
    if (!code) return page(res, messagePage("Not signed in", "GitHub did not authorize the sign-in.", "/login"), 403);
    try {
      const token = await accessToken(github, code, callbackUrl(req));
      const user = await gitHubGet<{ login?: unknown }>(github, "/user", token);
      if (typeof user.login !== "string") throw new SignInFailed("GitHub did not say who you are.");
      const repos: Record<string, "read" | "write"> = {};
      const names = new Set(config.targets.flatMap((t) => (t.repository ? [t.repository.toLowerCase()] : [])));
      for (const name of names) {
        const access = await permissionOn(github, name, token);
        if (access !== "none") repos[name] = access;
      }
      const { id } = sessions.create(user.login, "github", { login: user.login, repos });
      logger.info("dashboard sign-in with GitHub", { login: user.login, repositories: Object.keys(repos).length });
      setSessionCookie(req, res, id);
      res.redirect(303, "/");
    } catch (error) {
      const message = error instanceof SignInFailed ? error.message : "GitHub could not be reached.";
      logger.warn("GitHub sign-in failed", { reason: message });
      page(res, messagePage("Not signed in", `${message} Try again.`, "/login"), 502);
    }
  });
  return router;
}

async function accessToken(github: GitHubSignIn, code: string, redirectUri: string): Promise<string> {
  const res = await fetch(new URL("/login/oauth/access_token", github.webUrl), {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({ client_id: github.clientId, client_secret: github.clientSecret, code, redirect_uri: redirectUri }),
    signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: unknown };
  // GitHub answers 200 with `{error}` for a bad or used code.
  if (!res.ok || typeof body.access_token !== "string") throw new SignInFailed("GitHub refused the sign-in code.");
  return body.access_token;
}

async function gitHubGet<T>(github: GitHubSignIn, pathname: string, token: string): Promise<T> {
  const res = await fetch(`${github.apiUrl}${pathname}`, {
    headers: { accept: "application/vnd.github+json", authorization: `Bearer ${token}`, "user-agent": "cicd" },
    signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS),
  });
  if (!res.ok) throw Object.assign(new SignInFailed(`GitHub answered ${res.status}.`), { status: res.status });
  return (await res.json()) as T;
}

/** The user's permission on `owner/name`; a repository they cannot see answers 404: none. */
async function permissionOn(github: GitHubSignIn, name: string, token: string): Promise<"none" | "read" | "write"> {
  try {
    const repo = await gitHubGet<{ permissions?: { push?: boolean; pull?: boolean } }>(github, `/repos/${name}`, token);
    return repo.permissions?.push ? "write" : repo.permissions?.pull ? "read" : "none";
  } catch (error) {
    if ((error as { status?: number }).status === 404 || (error as { status?: number }).status === 403) return "none";
    throw error;
  }
}
