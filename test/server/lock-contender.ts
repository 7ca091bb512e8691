// A contender for a database lock, for database-lock.test.ts: `node --import tsx lock-contender.ts DB`.
// It loads everything and says `ready`; then, on each `go <delay ms>` line on stdin (sent to
// several contenders at once, each with its own small delay, so their attempts start at the same
// moment or while another one is in the middle of taking the lock), it tries the lock and prints
// `locked` (and holds it until killed) or `refused <message>` (and waits for the next `go`).
import { createInterface } from "node:readline";
import { lockDatabase } from "../../src/store/database-lock.js";

const database = process.argv[2]!;
let held = false;
createInterface({ input: process.stdin }).on("line", (line) => {
  if (held) return void process.stdout.write("locked\n");
  const until = performance.now() + Number(line.split(" ")[1] ?? 0);
  while (performance.now() < until); // spin, not a timer: sub-millisecond spacing
  try {
    lockDatabase(database);
    held = true;
    process.stdout.write("locked\n");
  } catch (error) {
    process.stdout.write(`refused ${(error as Error).message}\n`);
  }
});
process.stdout.write("ready\n");
