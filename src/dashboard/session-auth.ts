import type { Request, RequestHandler, Response } from "express";
import { errors } from "../shared/errors.js";
import { sameSecret } from "../shared/same-secret.js";
import type { Session, SessionStore } from "../store/session-store.js";
import { SESSION_TTL_MS } from "../store/session-store.js";
import { messagePage } from "./pages/message-page.js";

/** The session cookie's name. Its value is random (256 bits); the store keeps only its hash. */
export const SESSION_COOKIE = "cicd_session";

/** What a signed-in request carries in `res.locals`. */
export interface SignedIn {
  session: Session;
  sessionId: string;
}

/** The signed-in session of a response (set by `requirePage` or `requireData`). */
export function signedIn(res: Response): SignedIn {
  return res.locals.signedIn as SignedIn;
}

/** The value of cookie `name` in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * Sets the session cookie: HttpOnly (no script reads it), SameSite=Lax (another site's forms do
 * not carry it), Secure when the request came over https (directly or through a loopback proxy,
 * see `trust proxy`), for the session's lifetime.
 */
export function setSessionCookie(req: Request, res: Response, id: string): void {
  const parts = [`${SESSION_COOKIE}=${id}`, "Path=/", "HttpOnly", "SameSite=Lax", `Max-Age=${Math.floor(SESSION_TTL_MS / 1000)}`];
  if (req.secure) parts.push("Secure");
  res.append("set-cookie", parts.join("; "));
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.append("set-cookie", `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${req.secure ? "; Secure" : ""}`);
}

/**
 * Where to go after sign-in: a path of this server only (`/builds?x=1`), never another origin
 * (`//evil.example`, `/\evil`, `https://…`): an open redirect would lend the login page to phishing.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\") || /[\r\n]/.test(next)) return "/";
  return next;
}

/** The three guards of the dashboard's routes. */
export function sessionGuards(sessions: SessionStore, publicUrl?: string): { page: RequestHandler; data: RequestHandler; change: RequestHandler } {
  const find = (req: Request, res: Response): boolean => {
    const id = readCookie(req.get("cookie"), SESSION_COOKIE);
    const session = sessions.find(id);
    if (!session || !id) return false;
    res.locals.signedIn = { session, sessionId: id } satisfies SignedIn;
    return true;
  };
  return {
    /** Pages: without a session, a redirect to `/login?next=<this page>`. */
    page: (req, res, next) => {
      if (find(req, res)) return next();
      res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    },
    /** Data (streams, downloads): without a session, 401 (a script or EventSource cannot follow a redirect to a form). */
    data: (req, res, next) => {
      if (find(req, res)) return next();
      next(errors.dashboardSignInRequired());
    },
    /**
     * State-changing requests: a session, its CSRF token (form field `_csrf` or header
     * `X-CSRF-Token`) and a same-origin `Origin` (or, without one, `Referer`). Anything less is
     * refused with 403 before the request does anything.
     */
    change: (req, res, next) => {
      if (!find(req, res)) return void res.redirect(303, "/login");
      const { session } = signedIn(res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const given = typeof body._csrf === "string" ? body._csrf : req.get("x-csrf-token");
      if (!given || !sameSecret(given, session.csrf) || !sameOrigin(req, publicUrl)) {
        return void res.status(403).type("html").send(messagePage("Refused", "This request did not come from a page of this dashboard (its CSRF token or origin is missing or wrong), so nothing was changed. Go back, reload the page and try again.").text);
      }
      next();
    },
  };
}

/**
 * Whether the request's `Origin` (or else `Referer`) is this server's own origin: the one the
 * request was sent to (through a loopback proxy, its `X-Forwarded-Host` and `-Proto`; see `trust
 * proxy`), or `publicUrl` of cicd.yml.
 */
export function sameOrigin(req: Request, publicUrl?: string): boolean {
  const own = new Set([`${req.protocol}://${req.host}`]);
  if (publicUrl) own.add(new URL(publicUrl).origin);
  const origin = req.get("origin");
  if (origin !== undefined && origin !== "null") return own.has(origin);
  const referer = req.get("referer");
  if (referer === undefined) return false;
  try {
    return own.has(new URL(referer).origin);
  } catch {
    return false;
  }
}

/** What a session may do with a target: nothing, see it, or also press its buttons. */
export type Access = "none" | "read" | "write";

/**
 * The one rule of who sees what, used by every page, data route and action of the dashboard:
 * an API-token session may do everything; a GitHub session has, on a target, the permission its
 * user had on the target's `repository` when they signed in (`data.repos`, refreshed at each
 * sign-in); a target without a `repository` is for API-token sessions only.
 */
export function accessTo(session: Session, target: { repository?: string } | undefined): Access {
  if (!target) return "none";
  if (session.kind === "token") return "write";
  if (session.kind !== "github" || !target.repository) return "none";
  const repos = (session.data.repos ?? {}) as Record<string, unknown>;
  const access = repos[target.repository.toLowerCase()];
  return access === "write" || access === "read" ? access : "none";
}

export function canRead(session: Session, target: { repository?: string } | undefined): boolean {
  return accessTo(session, target) !== "none";
}

export function canWrite(session: Session, target: { repository?: string } | undefined): boolean {
  return accessTo(session, target) === "write";
}
