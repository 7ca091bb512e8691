import type { Config } from "../config/load-config.js";
import type { Logger } from "../shared/logger.js";
import { lockDatabase, type DatabaseLock } from "../store/database-lock.js";
import { openDatabase, type Db } from "../store/open-database.js";

/** The server's durable state, held: the database, its lock, and whether it can still be kept. */
export interface HeldDatabase {
  db: Db;
  /** Why the database can no longer be trusted (its file deleted or replaced), or undefined. */
  unavailable(): string | undefined;
  /** Closes the database, then lets the lock go. Idempotent. */
  close(): void;
}

/**
 * Step 1, lock and open the database. One server per database: the lock is taken before the
 * database opens and let go only after it closes. A database file deleted or replaced under the
 * running server is noticed by the lock's watch: from then on `unavailable()` says why, health
 * turns 503 and triggers are refused (the other steps ask it).
 */
export function lockAndOpenDatabase(config: Config, logger: Logger): HeldDatabase {
  const lock: DatabaseLock | undefined = config.database === ":memory:" ? undefined : lockDatabase(config.database);
  let db: Db;
  try {
    db = openDatabase(config.database);
  } catch (error) {
    lock?.release();
    throw error;
  }
  let unavailable: string | undefined;
  lock?.watch((reason) => {
    unavailable = reason;
    logger.error(reason, { database: config.database });
  });
  let closed = false;
  return {
    db,
    unavailable: () => unavailable,
    close: () => {
      if (closed) return;
      closed = true;
      db.close();
      lock?.release();
    },
  };
}
