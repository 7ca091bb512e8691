import { chmodSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/open-database.js";

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe("the server's files are private to its user", () => {
  it("creates the data folder 0700 and the database with its -wal and -shm files 0600", () => {
    const data = path.join(mkdtempSync(path.join(tmpdir(), "cicd-private-")), "data");
    const file = path.join(data, "cicd.sqlite");
    const db = openDatabase(file);
    try {
      db.exec("CREATE TABLE probe (x); INSERT INTO probe VALUES (1)");
      expect(modeOf(data)).toBe(0o700);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f), f).toBe(0o600);
    } finally {
      db.close();
    }
  });

  it("tightens a database left readable by an older cicd", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cicd-private-"));
    const file = path.join(dir, "cicd.sqlite");
    openDatabase(file).close();
    chmodSync(file, 0o644);
    const db = openDatabase(file);
    try {
      expect(modeOf(file)).toBe(0o600);
      expect(modeOf(`${file}-wal`)).toBe(0o600);
    } finally {
      db.close();
    }
  });
});
