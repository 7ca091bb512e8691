import { spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { BuildsFile, type BuildRecord } from "../../src/servicefs/builds-file.js";
import { BuildStore } from "../../src/store/build-store.js";
import { openDatabase } from "../../src/store/open-database.js";
import { testTarget, writeConfigFile } from "../helpers/config-file.js";
import { freePort } from "../helpers/free-port.js";
import { projectRoot } from "../helpers/images.js";
import { spawnServer } from "../helpers/server-process.js";

/**
 * "The service file system and the database never disagree after a crash in the middle of a
 * clean-up": a real `cicd server` starts a large clean-up on its own (its first run, soon after
 * start) and is killed with SIGKILL in the middle. Every build the database still holds, not
 * marked for deletion, must still have its builds.json record, artifact and log; no file or
 * record may be left that neither a row nor a record names; and `cicd gc` finishes the job.
 */

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
const env = { CICD_API_TOKEN: "retention-crash-test-token-0123456789" };
const BUILDS = 4000;

function gc(configFile: string, ...args: string[]) {
  const result = spawnSync(process.execPath, ["--import", "tsx", path.join(projectRoot, "test/helpers/cicd-cli.ts"), "gc", "--config", configFile, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A config (local executor, target app with `keep`) and BUILDS finished builds of app, each published with one file and a log. */
async function seed(keep: Record<string, number>, builds = BUILDS) {
  const { dir, file } = writeConfigFile(
    { executor: "local", host: "127.0.0.1", servicefs: "./data/servicefs", database: "./data/cicd.sqlite", targets: [testTarget("app", { url: "files:///nowhere", commands: ["true"], keep })] },
    { prefix: "cicd-retention-crash-" },
  );
  const data = path.join(dir, "data");
  const database = path.join(data, "cicd.sqlite");
  const targetDir = path.join(data, "servicefs", "app");
  const logs = path.join(data, "logs");
  mkdirSync(targetDir, { recursive: true });
  mkdirSync(logs, { recursive: true, mode: 0o700 });
  const db = openDatabase(database);
  const store = new BuildStore(db);
  const start = Date.now() - builds * 1000;
  const rows = Array.from({ length: builds }, (_, i) => {
    const key = `build${String(i).padStart(6, "0")}`;
    return { key, file: `app-${key}.txt`, log: path.join(logs, `${key}.log`), createdAt: new Date(start + i * 1000).toISOString() };
  });
  store.insertQueuedAll(rows.map((r) => ({ key: r.key, target: "app", ref: "main", sha: null, trigger: "api" as const, deliveryId: null, repository: null, installationId: null, pullRequest: null, untrusted: false, meta: {}, logPath: r.log, createdAt: r.createdAt })));
  const finish = db.prepare("UPDATE builds SET status = 'succeeded', outcome = 'succeeded', exit_code = 0, finished_at = ?, artifacts = ? WHERE key = ?");
  db.transaction(() => {
    for (const r of rows) finish.run(r.createdAt, JSON.stringify([r.file]), r.key);
    db.exec("DELETE FROM queue");
  })();
  db.close();
  const records: BuildRecord[] = [];
  for (const r of rows) {
    writeFileSync(path.join(targetDir, r.file), `artifact of ${r.key}\n`);
    writeFileSync(r.log, `log of ${r.key}\n`);
    records.push({ key: r.key, status: "good", createdAt: r.createdAt, commit: null, ref: "main", artifacts: [r.file] });
  }
  await new BuildsFile(targetDir, "app").update((doc) => void doc.builds.push(...records));
  return { file, database, targetDir, logs, keys: rows.map((r) => r.key) };
}

/** The database, builds.json and the files, as they are now. */
async function snapshot(s: Awaited<ReturnType<typeof seed>>) {
  const db = new Database(s.database, { readonly: true });
  const rows = db.prepare("SELECT key, artifacts, log_path, json_extract(meta, '$.deleting') AS deleting FROM builds").all() as { key: string; artifacts: string; log_path: string; deleting: string | null }[];
  db.close();
  const records = (await new BuildsFile(s.targetDir, "app").read()).builds;
  const files = readdirSync(s.targetDir).filter((f) => !f.startsWith(".") && f !== "builds.json");
  const logs = readdirSync(s.logs);
  return { rows, records, files, logs };
}

/** Each row not marked for deletion has its record, file and log; nothing is left that no row names. */
function expectConsistent(state: Awaited<ReturnType<typeof snapshot>>) {
  const recordOf = new Map(state.records.map((r) => [r.key, r]));
  const files = new Set(state.files);
  const unmarked = state.rows.filter((r) => r.deleting === null);
  for (const row of unmarked) {
    const artifacts = JSON.parse(row.artifacts) as string[];
    expect(recordOf.get(row.key)?.artifacts, row.key).toEqual(artifacts);
    for (const a of artifacts) expect(files.has(a), `${row.key}: ${a}`).toBe(true);
    expect(existsSync(row.log_path), `${row.key}: log`).toBe(true);
  }
  const rowKeys = new Set(state.rows.map((r) => r.key));
  // A record only for a build the database holds (no record outlives its row).
  for (const record of state.records) expect(rowKeys.has(record.key), `record ${record.key}`).toBe(true);
  // A file or log only for a build the database holds (a row never goes before its files).
  const named = new Set(state.rows.flatMap((r) => JSON.parse(r.artifacts) as string[]));
  for (const f of state.files) expect(named.has(f), `file ${f}`).toBe(true);
  for (const l of state.logs) expect(rowKeys.has(l.replace(/\.log.*$/, "")), `log ${l}`).toBe(true);
}

describe("retention and a crash", () => {
  it("after kill -9 in the middle of a large clean-up, database and service file system agree; cicd gc finishes it", async () => {
    const s = await seed({ builds: 1, good: 0 });
    const server = await spawnServer(s.file, { ...env, PORT: String(await freePort()) });
    children.push(server.child);
    // Watch the rows go (a second connection, read-only) and kill the server once some have.
    const watcher = new Database(s.database, { readonly: true });
    const count = () => (watcher.prepare("SELECT COUNT(*) AS n FROM builds").get() as { n: number }).n;
    const marked = () => (watcher.prepare("SELECT COUNT(*) AS n FROM builds WHERE json_extract(meta, '$.deleting') IS NOT NULL").get() as { n: number }).n;
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        // A batch is done and the next one decided (marked), its files going: kill it there.
        if (count() < BUILDS && marked() > 0) {
          clearInterval(poll);
          server.child.kill("SIGKILL");
          resolve();
        }
      }, 2);
      void server.exited.then(() => reject(new Error(`the server ended before its clean-up began:\n${server.output()}`)));
    });
    await server.exited;
    watcher.close();

    const after = await snapshot(s);
    // Killed in the middle: some builds are gone, many are still there.
    expect(after.rows.length).toBeLessThan(BUILDS);
    expect(after.rows.length).toBeGreaterThan(1);
    // … and inside a batch: its rows are marked, its records or files partly gone.
    expect(after.rows.filter((r) => r.deleting !== null).length).toBeGreaterThan(0);
    expectConsistent(after);

    // A dry run lists the rest and removes nothing.
    const dry = gc(s.file, "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    const lines = dry.stdout.trim().split("\n");
    expect(lines).toHaveLength(after.rows.length); // every row but the newest, plus the count line
    expect(lines[0]).toMatch(/^would remove app #\d+ build\d{6} \((past keep\.builds \(1\)|.+)\)$/);
    expect(lines.at(-1)).toBe(`would remove ${after.rows.length - 1} build(s)`);
    expect((await snapshot(s)).rows).toHaveLength(after.rows.length);

    // cicd gc finishes the interrupted clean-up and keeps to keep.
    const run = gc(s.file);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`removed ${after.rows.length - 1} build(s)`);
    const done = await snapshot(s);
    const newest = s.keys.at(-1)!;
    expect(done.rows.map((r) => r.key)).toEqual([newest]);
    expect(done.records.map((r) => r.key)).toEqual([newest]);
    expect(done.files).toEqual([`app-${newest}.txt`]);
    expect(done.logs).toEqual([`${newest}.log`]);
    expectConsistent(done);
  });

  it("cicd gc refuses while a server holds the database, and says why", async () => {
    const s = await seed({ builds: 0 }, 3);
    const server = await spawnServer(s.file, { ...env, PORT: String(await freePort()) });
    children.push(server.child);
    const refused = gc(s.file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("is in use by another cicd server");
    expect(refused.stderr).toContain("a running server removes builds past keep by itself");
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    server.child.kill("SIGTERM");
    await server.exited;
    const free = gc(s.file);
    expect(free.code, free.stderr).toBe(0);
    expect(free.stdout).toBe("nothing to remove\n");
  });
});
