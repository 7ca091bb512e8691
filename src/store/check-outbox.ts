import type { Build, BuildStatus } from "../shared/api/builds.js";
import type Database from "better-sqlite3";
import { toBuild, type Row } from "./build-row.js";
import type { Db } from "./open-database.js";

/** Most builds `unreported()` returns: the reporter keeps no more pending than this either. */
export const UNREPORTED_LIMIT = 10_000;

/**
 * The check-run outbox: `builds.check_reported` holds the build status GitHub last confirmed
 * (migration 4). A status change is written to `builds.status` in its own transaction, so the
 * outbox entry ("status differs from what GitHub has") exists as soon as the status does,
 * whatever happens to the process after; it is closed when GitHub answers an update that
 * carried that status. On start the reporter asks for every build of a GitHub repository still
 * open and brings its check run up to date.
 */
export class CheckOutbox {
  private statements?: {
    mark: Database.Statement<[string, string]>;
    open: Database.Statement<[number], Row>;
  };

  /** Statements are prepared on first use, so building the outbox never touches the database. */
  constructor(private readonly db: Db) {}

  /** GitHub confirmed a check-run update that carried `status` for build `key`. */
  markReported(key: string, status: BuildStatus): void {
    this.stmt().mark.run(status, key);
  }

  /**
   * Builds of a GitHub repository (installation id set) whose check run is missing or behind
   * their status, oldest first, at most UNREPORTED_LIMIT of them (the newest when more are open).
   */
  unreported(): Build[] {
    return this.stmt().open.all(UNREPORTED_LIMIT).map(toBuild).reverse();
  }

  private stmt() {
    return (this.statements ??= {
      mark: this.db.prepare<[string, string]>("UPDATE builds SET check_reported = ? WHERE key = ?"),
      // Without an index on check_reported: it runs once per start, and a scan of even 100,000
      // rows takes milliseconds, while an index would cost every status change a write.
      open: this.db.prepare<[number], Row>(
        `SELECT * FROM builds
          WHERE installation_id IS NOT NULL AND repository IS NOT NULL
            AND (check_reported IS NULL OR check_reported <> status)
          ORDER BY seq DESC LIMIT ?`,
      ),
    });
  }
}
