import type Database from "better-sqlite3";
import type { BuildStatus } from "../shared/api/builds.js";
import type { Db } from "./open-database.js";

/** A finished build as retention sees it: enough to decide, to say why and to delete its files. */
export interface RetainedBuild {
  key: string;
  number: number;
  target: string;
  status: BuildStatus;
  createdAt: string;
  ref: string | null;
  pullRequest: number | null;
  untrusted: boolean;
  /** File names: in the target's servicefs folder (branch builds) or kept by key (pull requests). */
  artifacts: string[];
  logPath: string | null;
  /** Why its clean-up was decided, when it is marked (`meta.deleting`); undefined otherwise. */
  deleting?: string;
}

interface Row {
  key: string;
  number: number | null;
  target: string;
  status: BuildStatus;
  created_at: string;
  ref: string | null;
  pull_request: number | null;
  untrusted: number;
  artifacts: string;
  log_path: string | null;
  deleting: string | null;
}

const COLUMNS = "key, number, target, status, created_at, ref, pull_request, untrusted, artifacts, log_path, json_extract(meta, '$.deleting') AS deleting";

/**
 * Finished builds only: a queued or running build is never a candidate. A build whose check run
 * GitHub has not yet confirmed in its final status (the outbox, check-outbox.ts) waits too:
 * deleting it would leave its check run "in progress" for ever.
 */
const FINISHED = `status IN ('succeeded', 'failed', 'cancelled', 'error')
  AND NOT (installation_id IS NOT NULL AND repository IS NOT NULL AND (check_reported IS NULL OR check_reported <> status))`;

/**
 * What retention reads and writes in SQLite. A clean-up is committed by marking its rows
 * (`meta.deleting` = why, one transaction); the rows are deleted only after their files, so a
 * marked row is a clean-up a crash interrupted and the next run finishes (manager/retention.ts).
 */
export class RetentionStore {
  private readonly stmt: {
    beyond: Database.Statement<[string, string, number], Row>;
    marked: Database.Statement<[], Row>;
    mark: Database.Statement<[string, string]>;
    remove: Database.Statement<[string]>;
    logs: Database.Statement<[string], { log_path: string | null; key: string }>;
  };
  private readonly transaction: (work: () => void) => void;

  constructor(db: Db) {
    this.transaction = db.transaction((work: () => void) => work());
    this.stmt = {
      // Newest first, past the newest `keep` finished builds or created before the cut-off; an
      // OFFSET past the end reads nothing, so a target under both limits costs one index range.
      beyond: db.prepare(
        `SELECT ${COLUMNS} FROM (
           SELECT *, ROW_NUMBER() OVER (ORDER BY seq DESC) AS nth FROM builds WHERE target = ? AND ${FINISHED}
         ) WHERE json_extract(meta, '$.deleting') IS NULL AND (created_at < ? OR nth > ?) ORDER BY seq DESC`,
      ),
      marked: db.prepare(`SELECT ${COLUMNS} FROM builds WHERE json_extract(meta, '$.deleting') IS NOT NULL ORDER BY seq`),
      mark: db.prepare("UPDATE builds SET meta = json_set(meta, '$.deleting', ?) WHERE key = ?"),
      remove: db.prepare("DELETE FROM builds WHERE key = ?"),
      // Not the queued ones: however long the queue, they have nothing on disk yet (a retried
      // build's earlier log is counted again once it runs).
      logs: db.prepare("SELECT key, log_path FROM builds WHERE target = ? AND status <> 'queued'"),
    };
  }

  /**
   * Finished builds of `target` past the newest `builds` (0: no limit) or created before
   * `createdBefore` (ISO time; "" for none), newest first, not yet marked.
   */
  candidates(target: string, limits: { builds: number; createdBefore: string }): RetainedBuild[] {
    return this.stmt.beyond.all(target, limits.createdBefore, limits.builds === 0 ? Number.MAX_SAFE_INTEGER : limits.builds).map(toRetained);
  }

  /** Builds whose clean-up was decided and not finished (a crash), oldest first. */
  marked(): RetainedBuild[] {
    return this.stmt.marked.all().map(toRetained);
  }

  /** Decides the clean-up of these builds, all or none: from now on a run finishes it. */
  mark(builds: { key: string; why: string }[]): void {
    this.transaction(() => {
      for (const b of builds) this.stmt.mark.run(b.why, b.key);
    });
  }

  /** Deletes the rows (their queue entries go with them), all or none. */
  remove(keys: string[]): void {
    this.transaction(() => {
      for (const key of keys) this.stmt.remove.run(key);
    });
  }

  /** Every build of `target` that ran or runs, with its log file (for its disk use: logs, artifacts kept by key). */
  logsOf(target: string): { key: string; logPath: string | null }[] {
    return this.stmt.logs.all(target).map((r) => ({ key: r.key, logPath: r.log_path }));
  }
}

function toRetained(row: Row): RetainedBuild {
  return {
    key: row.key,
    number: row.number ?? 0,
    target: row.target,
    status: row.status,
    createdAt: row.created_at,
    ref: row.ref,
    pullRequest: row.pull_request,
    untrusted: row.untrusted === 1,
    artifacts: JSON.parse(row.artifacts) as string[],
    logPath: row.log_path,
    ...(row.deleting === null ? {} : { deleting: row.deleting }),
  };
}
