import path from "node:path";
import { parseArgs } from "node:util";
import { readEnvironment } from "../config/environment.js";
import { loadConfig } from "../config/load-config.js";
import { isCicdError } from "../shared/errors.js";
import { createLogger } from "../shared/logger.js";
import { BuildArtifacts } from "../servicefs/build-artifacts.js";
import { ServiceFs } from "../servicefs/service-fs.js";
import { lockDatabase, type DatabaseLock } from "../store/database-lock.js";
import { openDatabase } from "../store/open-database.js";
import { RunnerStore } from "../store/runner-store.js";
import { Retention, type Removal } from "./retention.js";

const usage = `Usage: cicd gc [--config FILE] [--dry-run]

Removes builds past their targets' keep (builds, days, good) now: their records, logs and
artifacts, as the server does by itself every 30 seconds. Prints one line per build (target,
number, key, why). Works on the config's database and service file system while no server runs.
  --config FILE   cicd.yml to use (default: $CICD_CONFIG or ./cicd.yml)
  --dry-run       print what would be removed; remove nothing
`;

/** `cicd gc`: one retention run on the config's data, under the database's one-server lock. */
export async function gcMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" }, "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" } } }));
  } catch (error) {
    process.stderr.write(`cicd gc: ${(error as Error).message}\n\n${usage}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const dry = values["dry-run"] === true;
  let lock: DatabaseLock | undefined;
  try {
    const environment = readEnvironment(process.env);
    const config = loadConfig(values.config ?? environment.CICD_CONFIG, process.env);
    if (config.database === ":memory:") {
      process.stderr.write("cicd gc: the config's database is :memory:, which only its server sees; nothing to clean.\n");
      return 1;
    }
    try {
      lock = lockDatabase(config.database);
    } catch (error) {
      if (!isCicdError(error) || error.code !== "CONFLICT") throw error;
      // The running server cleans up by itself; two clean-ups of one service file system must not interleave.
      process.stderr.write(`cicd gc: ${error.message}\ncicd gc: a running server removes builds past keep by itself (every 30 seconds); stop it to run cicd gc.\n`);
      return 1;
    }
    const db = openDatabase(config.database);
    try {
      const logger = createLogger("cicd gc", { level: environment.LOG_LEVEL, format: environment.LOG_FORMAT });
      const retention = new Retention({
        config,
        db,
        servicefs: new ServiceFs(config.servicefs),
        // The server's data folder is the database's (server/start-server.ts).
        buildArtifacts: new BuildArtifacts(path.join(path.dirname(config.database), "artifacts")),
        runners: new RunnerStore(db),
        logger,
      });
      const removed = await retention.run({ dryRun: dry });
      process.stdout.write(report(removed, dry));
    } finally {
      db.close();
    }
    return 0;
  } catch (error) {
    if (!isCicdError(error)) throw error;
    process.stderr.write(`cicd gc: ${error.message}\n`);
    return 1;
  } finally {
    lock?.release();
  }
}

/** One line per build, then a count. */
function report(removed: Removal[], dry: boolean): string {
  const verb = dry ? "would remove" : "removed";
  const lines = removed.map((r) => `${verb} ${r.target} #${r.number} ${r.key} (${r.why})`);
  lines.push(removed.length ? `${dry ? "would remove" : "removed"} ${removed.length} build(s)` : "nothing to remove");
  return `${lines.join("\n")}\n`;
}
