// One contender for a database lock, for database-lock.test.ts: `node --import tsx lock-contender.ts DB`.
// It loads everything, says `ready`, waits for `go` on stdin (so several start their attempt at
// the same moment), then prints `locked` and holds the lock until killed, or `refused <message>`.
import { createInterface } from "node:readline";
import { lockDatabase } from "../../src/store/database-lock.js";

const database = process.argv[2]!;
process.stdout.write("ready\n");
const lines = createInterface({ input: process.stdin });
lines.once("line", () => {
  try {
    lockDatabase(database);
    process.stdout.write("locked\n");
    setInterval(() => undefined, 60_000);
  } catch (error) {
    process.stdout.write(`refused ${(error as Error).message}\n`);
    process.exit(3);
  }
});
