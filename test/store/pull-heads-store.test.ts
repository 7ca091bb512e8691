import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/open-database.js";
import { PullHeadsStore } from "../../src/store/pull-heads-store.js";

const root = mkdtempSync(path.join(os.tmpdir(), "cicd-pull-heads-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const newStore = () => new PullHeadsStore(openDatabase(path.join(root, `${++files}`, "cicd.sqlite")));

const [a, b, c] = ["a", "b", "c"].map((x) => x.repeat(40)) as [string, string, string];
const t = (minute: number) => `2026-03-01T12:${String(minute).padStart(2, "0")}:00Z`;
const iso = (minute: number) => new Date(t(minute)).toISOString();

describe("PullHeadsStore", () => {
  it("keeps each head's first time while the head stays (edits and labels say nothing of since when)", () => {
    const store = newStore();
    store.record("Acme/Hello", 7, a, t(1));
    store.record("acme/hello", 7, a, t(5)); // edited, same head
    store.record("acme/hello", 7, b.toUpperCase(), t(10)); // synchronize
    store.record("ACME/HELLO", 7, b, t(12)); // labeled
    expect(store.heads("acme/Hello", 7)).toEqual([
      { sha: a, at: iso(1) },
      { sha: b, at: iso(10) },
    ]);
    expect(store.heads("acme/hello", 8)).toEqual([]);
    expect(store.heads("acme/other", 7)).toEqual([]);
  });

  it("moves a head that came back (A, B, A) to its newest time; a late delivery moves nothing", () => {
    const store = newStore();
    store.record("acme/hello", 1, a, t(1));
    store.record("acme/hello", 1, b, t(2));
    store.record("acme/hello", 1, a, t(3)); // force-pushed back
    expect(store.heads("acme/hello", 1)).toEqual([
      { sha: b, at: iso(2) },
      { sha: a, at: iso(3) },
    ]);
    store.record("acme/hello", 1, a, t(1)); // the first push's event, delivered last
    store.record("acme/hello", 1, c, t(0)); // an unknown head from before: recorded at its time
    expect(store.heads("acme/hello", 1)).toEqual([
      { sha: c, at: iso(0) },
      { sha: b, at: iso(2) },
      { sha: a, at: iso(3) },
    ]);
  });

  it("records nothing for a time it cannot read, and keeps heads across a reopen of the file", () => {
    const file = path.join(root, "kept", "cicd.sqlite");
    const store = new PullHeadsStore(openDatabase(file));
    store.record("acme/hello", 1, a, "yesterday");
    store.record("acme/hello", 1, b, t(4));
    expect(new PullHeadsStore(openDatabase(file)).heads("acme/hello", 1)).toEqual([{ sha: b, at: iso(4) }]);
  });
});
