import { createHash } from "node:crypto";
import { Router } from "express";
import { findTarget, type Config } from "../config/load-config.js";
import { branchOf } from "../manager/supersede.js";
import type { Build, BuildService } from "../manager/types.js";
import { errors } from "../shared/errors.js";

export type BadgeState = "passing" | "failing" | "running" | "unknown";

/** How far back the badge looks for a build of the branch (newest first). */
const LOOK_BACK = 200;

/**
 * `GET /badge/:target.svg?branch=B`, no sign-in: the state of the newest build of that branch
 * (any branch when B is absent; pull requests never count): passing, failing, running, or
 * unknown when there is none. Cancelled builds (superseded, stopped) say nothing about the code
 * and are skipped. `badges: false` turns the route off (404). GitHub shows READMEs' images
 * through its caching proxy (camo): `no-cache` and an ETag make it ask again each time and get
 * 304 while nothing changed.
 */
export function badgeRoutes(config: Config, service: Pick<BuildService, "list">): Router {
  const router = Router();
  router.get("/badge/:file", (req, res, next) => {
    const name = /^(.+)\.svg$/.exec(req.params.file)?.[1];
    if (!config.badges || name === undefined || !findTarget(config, name)) return next(errors.notFound("badge", req.params.file));
    const branch = typeof req.query.branch === "string" && req.query.branch ? req.query.branch : undefined;
    const state = badgeState(service.list({ target: name, limit: LOOK_BACK }), branch);
    const svg = badgeSvg(name, state);
    const etag = `"${createHash("sha256").update(svg).digest("base64url").slice(0, 27)}"`;
    res.set({
      "content-type": "image/svg+xml; charset=utf-8",
      "cache-control": "no-cache, max-age=0",
      etag,
      // An SVG opened directly is a document: it must not run script or load anything.
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
      "x-content-type-options": "nosniff",
    });
    // Compared here rather than by express, which ignores If-None-Match when the request says
    // `Cache-Control: no-cache` (as fetch() does whenever it revalidates).
    const wanted = req.get("if-none-match");
    if (wanted && wanted.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag)) return void res.status(304).end();
    res.send(svg);
  });
  return router;
}

/** The state of the newest build of `branch` among `builds` (newest first). */
export function badgeState(builds: readonly Build[], branch: string | undefined): BadgeState {
  for (const b of builds) {
    if (b.pullRequest !== null || b.status === "cancelled") continue;
    const of = branchOf(b.ref);
    if (branch !== undefined && of !== branch) continue;
    if (b.status === "succeeded") return "passing";
    if (b.status === "failed" || b.status === "error") return "failing";
    return "running";
  }
  return "unknown";
}

const COLOURS: Record<BadgeState, string> = { passing: "#2e7d32", failing: "#c62828", running: "#b7791f", unknown: "#6b7280" };

/**
 * A flat two-part badge drawn by hand: the target on the left, the state on the right, in the
 * viewer's own sans-serif (no web font is fetched). Widths are estimated from the characters
 * (about 7 px each at 11 px), generous enough that the text never overflows.
 */
export function badgeSvg(label: string, state: BadgeState): string {
  const width = (text: string) => Math.round(text.length * 7 + 12);
  const left = width(label);
  const right = width(state);
  const total = left + right;
  const l = escapeXml(label);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="20" role="img" aria-label="${l}: ${state}">`,
    `<title>${l}: ${state}</title>`,
    `<rect width="${left}" height="20" fill="#555"/>`,
    `<rect x="${left}" width="${right}" height="20" fill="${COLOURS[state]}"/>`,
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,Geneva,sans-serif" font-size="11">`,
    `<text x="${left / 2}" y="14">${l}</text>`,
    `<text x="${left + right / 2}" y="14">${state}</text>`,
    `</g></svg>`,
  ].join("");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}
