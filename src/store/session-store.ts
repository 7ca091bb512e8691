import { createHash, randomBytes } from "node:crypto";
import type { Db } from "./open-database.js";

/** How a session was opened: the API token today; GitHub's OAuth ("github") has its place here. */
export type SessionKind = "token" | "github";

export interface Session {
  /** Who signed in, as shown on the pages ("API token", or a GitHub login). */
  who: string;
  kind: SessionKind;
  /** The session's CSRF token: every state-changing request of the dashboard carries it. */
  csrf: string;
  createdAt: string;
  expiresAt: string;
  /** What a kind of sign-in keeps besides (e.g. a GitHub user's repository permissions). */
  data: Record<string, unknown>;
}

interface Row {
  who: string;
  kind: SessionKind;
  csrf: string;
  created_at: string;
  expires_at: string;
  data: string;
}

/** A session lives this long from sign-in (7 days), then the user signs in again. */
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Dashboard sessions in SQLite (migration 7), so a sign-in survives a restart. Only the SHA-256
 * of the cookie's value is stored: a copy of the database (or a backup) holds no usable session.
 * An expired session is never returned, and is deleted when met or swept.
 */
export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Opens a session; returns the cookie's value (shown once, never stored) and the session. */
  create(who: string, kind: SessionKind, data: Record<string, unknown> = {}): { id: string; session: Session } {
    this.sweep();
    const id = randomBytes(32).toString("base64url");
    const created = this.now();
    const session: Session = {
      who,
      kind,
      csrf: randomBytes(32).toString("base64url"),
      createdAt: created.toISOString(),
      expiresAt: new Date(created.getTime() + SESSION_TTL_MS).toISOString(),
      data,
    };
    this.db
      .prepare("INSERT INTO sessions (id_hash, who, kind, csrf, created_at, expires_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(hashOf(id), who, kind, session.csrf, session.createdAt, session.expiresAt, JSON.stringify(data));
    return { id, session };
  }

  /** The live session of a cookie's value, or undefined (unknown, malformed or expired). */
  find(id: string | undefined): Session | undefined {
    if (!id || id.length > 200) return undefined;
    const row = this.db.prepare<[string], Row>("SELECT who, kind, csrf, created_at, expires_at, data FROM sessions WHERE id_hash = ?").get(hashOf(id));
    if (!row) return undefined;
    if (Date.parse(row.expires_at) <= this.now().getTime()) {
      this.delete(id);
      return undefined;
    }
    return { who: row.who, kind: row.kind, csrf: row.csrf, createdAt: row.created_at, expiresAt: row.expires_at, data: JSON.parse(row.data) as Record<string, unknown> };
  }

  /** Ends a session (sign-out). */
  delete(id: string): void {
    this.db.prepare("DELETE FROM sessions WHERE id_hash = ?").run(hashOf(id));
  }

  /** Deletes expired sessions (each sign-in sweeps, so the table stays small without a timer). */
  sweep(): number {
    return this.db.prepare("DELETE FROM sessions WHERE expires_at <= ?").run(this.now().toISOString()).changes;
  }
}

function hashOf(id: string): string {
  return createHash("sha256").update(id).digest("hex");
}
