import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { migrations } from "./migrations.js";

export type Db = Database.Database;

/**
 * Opens (creating if needed) the SQLite file in WAL mode and brings its schema up to date.
 * `synchronous=NORMAL` with WAL keeps every committed transaction across a process crash
 * (only an OS crash may lose the last ones), which is what the queue needs at low cost.
 * The database holds build logs' paths, reasons and tokens' hashes: it and its -wal and -shm
 * files are 0600, and a data folder it creates is 0700.
 */
export function openDatabase(file: string): Db {
  if (file !== ":memory:") keepPrivate(file);
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`The database was written by a newer cicd (schema ${current}, this one knows ${migrations.length}). Upgrade cicd.`);
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

/**
 * Creates the data folder 0700 (an existing one is the user's and is left as it is) and the
 * database file 0600 before SQLite opens it: SQLite gives the -wal and -shm files the mode of
 * the database file, so all three stay private. Files left by an older cicd are tightened.
 */
function keepPrivate(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
}
