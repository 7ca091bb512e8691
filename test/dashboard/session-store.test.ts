import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase, type Db } from "../../src/store/open-database.js";
import { SESSION_TTL_MS, SessionStore } from "../../src/store/session-store.js";

/** Dashboard sessions in a real SQLite file (migration 7): hashed, expiring, surviving a reopen. */
describe("SessionStore", () => {
  const opened: Db[] = [];
  const open = (file: string) => {
    const db = openDatabase(file);
    opened.push(db);
    return db;
  };
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
  });

  it("keeps only the SHA-256 of the cookie's value, and finds the session again after a reopen", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "cicd-sessions-")), "cicd.sqlite");
    const { id, session } = new SessionStore(open(file)).create("API token", "token");
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    opened.pop()!.close();
    const db = open(file);
    const rows = db.prepare("SELECT * FROM sessions").all() as { id_hash: string }[];
    expect(rows.map((r) => r.id_hash)).toEqual([createHash("sha256").update(id).digest("hex")]);
    expect(JSON.stringify(rows)).not.toContain(id);
    expect(new SessionStore(db).find(id)).toEqual(session);
    expect(new SessionStore(db).find(`${id}x`)).toBeUndefined();
    expect(new SessionStore(db).find(undefined)).toBeUndefined();
  });

  it("expires a session 7 days after sign-in, and deletes it", () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const db = open(":memory:");
    const store = new SessionStore(db, () => now);
    const { id } = store.create("API token", "token");
    now = new Date(now.getTime() + SESSION_TTL_MS - 1000);
    expect(store.find(id)?.who).toBe("API token");
    now = new Date(now.getTime() + 1000);
    expect(store.find(id)).toBeUndefined();
    expect(db.prepare("SELECT COUNT(*) AS n FROM sessions").get()).toEqual({ n: 0 });
  });

  it("ends a session on sign-out; a sign-in sweeps expired ones", () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const db = open(":memory:");
    const store = new SessionStore(db, () => now);
    const a = store.create("API token", "token");
    const b = store.create("API token", "token");
    store.delete(a.id);
    expect(store.find(a.id)).toBeUndefined();
    expect(store.find(b.id)).toBeDefined();
    now = new Date(now.getTime() + SESSION_TTL_MS + 1);
    store.create("API token", "token");
    expect(db.prepare("SELECT COUNT(*) AS n FROM sessions").get()).toEqual({ n: 1 });
  });
});
