import { Router, urlencoded, type Request, type RequestHandler, type Response } from "express";
import { findTarget, type Config } from "../config/load-config.js";
import type { Manager } from "../manager/manager.js";
import type { Runners } from "../manager/runners.js";
import { buildStatusSchema } from "../shared/api/builds.js";
import { CicdError, errors } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { sameSecret } from "../shared/same-secret.js";
import type { SessionStore } from "../store/session-store.js";
import { clientScript } from "./client-script.js";
import { buildPage } from "./pages/build-page.js";
import { buildsPage, type BuildsQuery } from "./pages/builds-page.js";
import { loginPage } from "./pages/login-page.js";
import { messagePage } from "./pages/message-page.js";
import { runnersPage } from "./pages/runners-page.js";
import { lastPerBranch, targetsPage } from "./pages/targets-page.js";
import { clearSessionCookie, safeNext, sameOrigin, sessionGuards, setSessionCookie, signedIn } from "./session-auth.js";
import { styles } from "./styles.js";

/**
 * What the dashboard serves of the REST API's own code, behind its session instead of the
 * bearer token (the composition root passes the API's routers, so nothing is copied):
 * `GET /builds/:key/log` (plain, or `?follow=1` as events), `GET /builds/:key/artifacts/:file`
 * and `GET /events`.
 */
export interface ApiTwins {
  buildLog: RequestHandler;
  artifactDownload: RequestHandler;
  events: RequestHandler;
}

export interface DashboardDeps {
  config: Config;
  manager: Manager;
  runners: Runners;
  sessions: SessionStore;
  /** The server's API token: signing in with it opens a session. */
  apiToken: string;
  api: ApiTwins;
  logger: Logger;
  /** Where commits link to (GitHub Enterprise: its own host). */
  githubUrl?: string;
}

/**
 * The pages load only this server's own stylesheet and script (no inline script, so markup that
 * slipped through escaping could not run), are never framed, and post forms only here.
 */
const CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
/** Builds per page of `/builds`. */
const PAGE_SIZE = 50;
/** `/builds` filters in memory within the newest this many of a target and status. */
const LIST_WINDOW = 1000;

/**
 * The dashboard: server-rendered pages at `/`, `/builds`, `/builds/:key`, `/runners`, with
 * `/login`. Every route names its guard: pages redirect to sign-in, data answers 401, actions
 * also need the session's CSRF token and a same-origin request. Only `/login` and the two
 * assets are open. Routes it does not know fall through (the API and the rest are mounted
 * beside it).
 */
export function createDashboard(deps: DashboardDeps): Router {
  const { config, manager, runners, sessions } = deps;
  const guard = sessionGuards(sessions, config.publicUrl);
  const form = urlencoded({ extended: false, limit: "16kb" });
  const router = Router();
  const page = (res: Response, body: { text: string }, status = 200) => {
    res.status(status).type("html").set({ "cache-control": "no-store", "content-security-policy": CSP, "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin" }).send(body.text);
  };

  router.get("/dashboard/app.css", (_req, res) => {
    res.type("text/css").set("cache-control", "no-cache").send(styles);
  });
  router.get("/dashboard/app.js", (_req, res) => {
    res.type("text/javascript").set("cache-control", "no-cache").send(clientScript);
  });

  router.get("/login", (req, res) => {
    page(res, loginPage({ next: safeNext(req.query.next) }));
  });
  router.post("/login", form, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    // Another site cannot sign a browser in under its own session (login CSRF).
    if (!sameOrigin(req, config.publicUrl)) return page(res, messagePage("Refused", "Sign in from this server's own login page.", "/login"), 403);
    const token = typeof body.token === "string" ? body.token : "";
    if (token === "" || !sameSecret(token, deps.apiToken)) {
      deps.logger.warn("dashboard sign-in refused: wrong API token", { ip: req.ip });
      return page(res, loginPage({ next, error: "That is not the server's API token." }), 401);
    }
    const { id } = sessions.create("API token", "token");
    setSessionCookie(req, res, id);
    res.redirect(303, next);
  });
  router.post("/logout", form, guard.change, (req, res) => {
    sessions.delete(signedIn(res).sessionId);
    clearSessionCookie(req, res);
    res.redirect(303, "/login");
  });

  router.get("/", guard.page, async (_req, res) => {
    const running = (await runners.list()).filter((r) => r.state === "running");
    const rows = config.targets.map((t) => ({
      name: t.name,
      repository: t.repository ?? null,
      lastByBranch: lastPerBranch(manager.list({ target: t.name, limit: 200 })),
      runners: running.filter((r) => r.target === t.name),
    }));
    page(res, targetsPage(config, rows, signedIn(res).session));
  });

  router.get("/builds", guard.page, (req, res) => {
    const query = buildsQuery(req);
    const branch = query.branch;
    const all = manager
      .list({ target: query.target, status: query.status, limit: LIST_WINDOW })
      .filter((b) => branch === undefined || b.ref === branch || b.ref === `refs/heads/${branch}` || b.ref === `refs/tags/${branch}`);
    const start = (query.page - 1) * PAGE_SIZE;
    page(res, buildsPage(config, query, { builds: all.slice(start, start + PAGE_SIZE), more: all.length > start + PAGE_SIZE }, signedIn(res).session));
  });

  router.get("/builds/:key", guard.page, (req, res) => {
    const key = String(req.params.key);
    const build = manager.get(key);
    if (!build) return page(res, messagePage("Not found", `No build named "${key}".`, "/builds"), 404);
    const deployable = Boolean(findTarget(config, build.target)?.run);
    page(res, buildPage(build, { deployable, session: signedIn(res).session, githubUrl: deps.githubUrl ?? "https://github.com" }));
  });

  // The API's own handlers, behind the session.
  router.get("/builds/:key/log", guard.data, deps.api.buildLog);
  router.get("/builds/:key/artifacts/:file", guard.data, deps.api.artifactDownload);
  router.get("/events", guard.data, deps.api.events);

  router.get("/runners", guard.page, async (_req, res) => {
    page(res, runnersPage(config, await runners.list(), signedIn(res).session));
  });

  // Actions: POST forms with the CSRF token; each answers with a redirect to where its result shows.
  const act = (handler: (req: Request) => Promise<string>): RequestHandler => async (req, res) => {
    try {
      res.redirect(303, await handler(req));
    } catch (error) {
      if (!(error instanceof CicdError)) throw error;
      page(res, messagePage("Not done", error.message, backTo(req)), error.status);
    }
  };
  const buildOf = (key: string) => {
    const build = manager.get(key);
    if (!build) throw errors.notFound("build", key);
    return build;
  };
  router.post("/builds/:key/rerun", form, guard.change, act(async (req) => {
    const build = buildOf(String(req.params.key));
    // The same target, ref and commit, and the same trust: a re-run of a fork's pull request stays untrusted.
    const { build: queued } = await manager.trigger({
      target: build.target,
      ref: build.ref ?? undefined,
      sha: build.sha ?? build.commit ?? undefined,
      trigger: "rerun",
      repository: build.repository ?? undefined,
      installationId: build.installationId ?? undefined,
      pullRequest: build.pullRequest ?? undefined,
      untrusted: build.untrusted,
    });
    return `/builds/${encodeURIComponent(queued.key)}`;
  }));
  router.post("/builds/:key/cancel", form, guard.change, act(async (req) => {
    const build = await manager.cancel(String(req.params.key));
    return `/builds/${encodeURIComponent(build.key)}`;
  }));
  router.post("/builds/:key/deploy", form, guard.change, act(async (req) => {
    const build = buildOf(String(req.params.key));
    const runner = await runners.deploy(build.target, build.key);
    return `/runners#runner-${runner.id}`;
  }));
  router.post("/targets/:name/runners", form, guard.change, act(async (req) => {
    const runner = await runners.create(String(req.params.name));
    return `/runners#runner-${runner.id}`;
  }));
  router.post("/runners/:id/stop", form, guard.change, act(async (req) => {
    const runner = await runners.remove(String(req.params.id));
    return `/runners#runner-${runner.id}`;
  }));

  return router;
}

function buildsQuery(req: Request): BuildsQuery {
  const text = (name: string): string | undefined => {
    const value = req.query[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  };
  const status = buildStatusSchema.safeParse(text("status"));
  const number = Number(text("page") ?? "1");
  return {
    target: text("target"),
    status: status.success ? status.data : undefined,
    branch: text("branch"),
    page: Number.isInteger(number) && number >= 1 && number <= 1000 ? number : 1,
  };
}

/** The page an action came from (its same-origin Referer), to go back to after a refusal. */
function backTo(req: Request): string {
  try {
    const url = new URL(req.get("referer") ?? "/", "http://local");
    return safeNext(url.pathname + url.search);
  } catch {
    return "/";
  }
}
