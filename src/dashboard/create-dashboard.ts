import { queuePage, whyWaiting } from "./pages/queue-page.js";
import { Router, urlencoded, type Request, type RequestHandler, type Response } from "express";
import { findTarget, type Config } from "../config/load-config.js";
import type { Manager } from "../manager/manager.js";
import type { Runners } from "../manager/runners.js";
import { buildStatusSchema } from "../shared/api/builds.js";
import { CicdError, errors } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { sameSecret } from "../shared/same-secret.js";
import type { Session, SessionStore } from "../store/session-store.js";
import { clientScript } from "./client-script.js";
import { buildPage } from "./pages/build-page.js";
import { buildsPage, type BuildsQuery } from "./pages/builds-page.js";
import { loginPage } from "./pages/login-page.js";
import { messagePage } from "./pages/message-page.js";
import { runnersPage } from "./pages/runners-page.js";
import { lastPerBranch, targetsPage } from "./pages/targets-page.js";
import { gitHubSignInRoutes, type GitHubSignIn } from "./github-sign-in.js";
import { canRead, canWrite, clearSessionCookie, safeNext, sameOrigin, sessionGuards, setSessionCookie, signedIn } from "./session-auth.js";
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
  /** "Sign in with GitHub", when the GitHub App and its OAuth client are configured (gitHubSignInSettings). */
  github?: GitHubSignIn;
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
  // Who may see and change what: session-auth.ts's rule, by target name. An API-token session
  // also sees builds of targets since removed from cicd.yml.
  const mayRead = (session: Session, name: string) => session.kind === "token" || canRead(session, findTarget(config, name));
  const mayWrite = (session: Session, name: string) => session.kind === "token" || canWrite(session, findTarget(config, name));
  const readable = (session: Session) => config.targets.filter((t) => canRead(session, t));
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
    page(res, loginPage({ next: safeNext(req.query.next), github: Boolean(deps.github) }));
  });
  if (deps.github) router.use(gitHubSignInRoutes({ github: deps.github, config, sessions, logger: deps.logger, page }));
  router.post("/login", form, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    // Another site cannot sign a browser in under its own session (login CSRF).
    if (!sameOrigin(req, config.publicUrl)) return page(res, messagePage("Refused", "Sign in from this server's own login page.", "/login"), 403);
    const token = typeof body.token === "string" ? body.token : "";
    if (token === "" || !sameSecret(token, deps.apiToken)) {
      deps.logger.warn("dashboard sign-in refused: wrong API token", { ip: req.ip });
      return page(res, loginPage({ next, error: "That is not the server's API token.", github: Boolean(deps.github) }), 401);
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
    const session = signedIn(res).session;
    const running = (await runners.list()).filter((r) => r.state === "running");
    const rows = readable(session).map((t) => ({
      name: t.name,
      repository: t.repository ?? null,
      lastByBranch: lastPerBranch(manager.list({ target: t.name, limit: 200 })),
      runners: running.filter((r) => r.target === t.name),
    }));
    page(res, targetsPage({ ...config, targets: readable(session) }, rows, session));
  });

  router.get("/builds", guard.page, (req, res) => {
    const session = signedIn(res).session;
    const query = buildsQuery(req);
    const branch = query.branch;
    const all = manager
      .list({ target: query.target, status: query.status, limit: LIST_WINDOW })
      .filter((b) => mayRead(session, b.target))
      .filter((b) => branch === undefined || b.ref === branch || b.ref === `refs/heads/${branch}` || b.ref === `refs/tags/${branch}`);
    const start = (query.page - 1) * PAGE_SIZE;
    page(res, buildsPage({ ...config, targets: readable(session) }, query, { builds: all.slice(start, start + PAGE_SIZE), more: all.length > start + PAGE_SIZE }, session));
  });

  router.get("/builds/:key", guard.page, (req, res) => {
    const key = String(req.params.key);
    const build = manager.get(key);
    const session = signedIn(res).session;
    // A build the session may not read is not there, as far as it can tell.
    if (!build || !mayRead(session, build.target)) return page(res, messagePage("Not found", `No build named "${key}".`, "/builds"), 404);
    const deployable = Boolean(findTarget(config, build.target)?.run);
    page(res, buildPage(build, { deployable, session, githubUrl: deps.githubUrl ?? "https://github.com", canAct: mayWrite(session, build.target) }));
  });

  // The API's own handlers, behind the session, for builds of targets it may read.
  const readableBuild: RequestHandler = (req, res, next) => {
    const build = manager.get(String(req.params.key));
    if (build && !mayRead(signedIn(res).session, build.target)) return next(errors.notFound("build", String(req.params.key)));
    next();
  };
  router.get("/builds/:key/log", guard.data, readableBuild, deps.api.buildLog);
  router.get("/builds/:key/artifacts/:file", guard.data, readableBuild, deps.api.artifactDownload);
  router.get("/events", guard.data, (_req, res, next) => {
    const session = signedIn(res).session;
    if (session.kind !== "token") onlyEventsOf(res, (target) => mayRead(session, target));
    next();
  }, deps.api.events);

  router.get("/queue", guard.page, (_req, res) => {
    const session = signedIn(res).session;
    const running = manager.list({ status: "running", limit: 1000 }).length;
    const waiting = manager
      .queued()
      .map((build, i) => ({ build, position: i + 1 }))
      .filter((w) => mayRead(session, w.build.target))
      .map((w) => ({ ...w, why: whyWaiting(w.build, w.position, running, config.concurrency) }));
    page(res, queuePage(waiting, { session, running, concurrency: config.concurrency }));
  });

  router.get("/runners", guard.page, async (_req, res) => {
    const session = signedIn(res).session;
    const shown = (await runners.list()).filter((r) => mayRead(session, r.target));
    page(res, runnersPage({ ...config, targets: readable(session) }, shown, session, (target) => mayWrite(session, target)));
  });

  // Actions: POST forms with the CSRF token; each answers with a redirect to where its result shows.
  /**
   * An action on a target: only a session that may write to it (an API-token session, or a
   * GitHub user with push access); anyone else gets 403 and nothing is done.
   */
  const act = (targetOf: (req: Request) => string | undefined | Promise<string | undefined>, handler: (req: Request) => Promise<string>): RequestHandler => async (req, res) => {
    try {
      const target = await targetOf(req);
      if (target !== undefined && !mayWrite(signedIn(res).session, target)) {
        deps.logger.warn("dashboard action refused: no write permission", { who: signedIn(res).session.who, target, action: req.path });
        return page(res, messagePage("Refused", "You may not change this target (it needs write permission on its repository), so nothing was changed.", backTo(req)), 403);
      }
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
  const buildTarget = (req: Request) => manager.get(String(req.params.key))?.target;
  router.post("/builds/:key/rerun", form, guard.change, act(buildTarget, async (req) => {
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
  router.post("/builds/:key/cancel", form, guard.change, act(buildTarget, async (req) => {
    const build = await manager.cancel(String(req.params.key));
    return `/builds/${encodeURIComponent(build.key)}`;
  }));
  router.post("/builds/:key/deploy", form, guard.change, act(buildTarget, async (req) => {
    const build = buildOf(String(req.params.key));
    const runner = await runners.deploy(build.target, build.key);
    return `/runners#runner-${runner.id}`;
  }));
  router.post("/targets/:name/runners", form, guard.change, act((req) => String(req.params.name), async (req) => {
    const runner = await runners.create(String(req.params.name));
    return `/runners#runner-${runner.id}`;
  }));
  router.post("/runners/:id/stop", form, guard.change, act(async (req) => (await runners.get(String(req.params.id)).catch(() => undefined))?.target, async (req) => {
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

/**
 * Lets through the event stream only the builds of targets `mayRead` allows. The API's events
 * route writes each event whole, in one `write` (`event: build\ndata: <build JSON>\n\n`), so an
 * event of another target is dropped here before a byte of it is sent.
 */
function onlyEventsOf(res: Response, mayRead: (target: string) => boolean): void {
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const prefix = "event: build\ndata: ";
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === "string" && chunk.startsWith(prefix)) {
      let target: unknown;
      try {
        target = (JSON.parse(chunk.slice(prefix.length)) as { target?: unknown }).target;
      } catch {
        target = undefined;
      }
      if (typeof target !== "string" || !mayRead(target)) return true;
    }
    return write(chunk, ...rest);
  }) as Response["write"];
}
