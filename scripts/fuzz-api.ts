/**
 * REST API fuzzing, the long run: `npx tsx scripts/fuzz-api.ts [--runs 10000] [--seed N]
 * [--concurrency 4]`. Starts a real server in-process (test/fuzz/api-fuzz.ts says what varies),
 * sends the random requests, and prints the counts: cases, answers by class and by status, and
 * every answer at or above 500 (or otherwise wrong) with its request. Exits 1 if there is one.
 */
import { parseArgs } from "node:util";
import { describeRequest, fuzzApi, startFuzzServer } from "../test/fuzz/api-fuzz.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "10000" }, seed: { type: "string" }, concurrency: { type: "string", default: "4" } },
});
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

// A crash of the server shows up here (it runs in this process): count it and go on, so the
// report names every one instead of the first killing the run.
const crashes: string[] = [];
process.on("uncaughtException", (error) => void crashes.push(error.stack ?? String(error)));
process.on("unhandledRejection", (error) => void crashes.push(error instanceof Error ? (error.stack ?? error.message) : String(error)));

const fuzz = await startFuzzServer();
try {
  console.log(`fuzzing ${fuzz.server.url}/api/v1 with ${runs} requests (seed ${seed})`);
  const report = await fuzzApi({ ...fuzz, runs, seed, concurrency: Number(values.concurrency), onProgress: (done) => process.stderr.write(`  ${done}/${runs}\r`) });
  const sorted = (counts: Record<string, number>) => Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join(", ");
  console.log(`cases: ${report.cases} in ${(report.ms / 1000).toFixed(1)} s (${Math.round(report.cases / (report.ms / 1000))}/s)`);
  console.log(`by class: ${sorted(report.byClass)}`);
  console.log(`by status: ${sorted(report.byStatus)}`);
  const fivexx = report.failures.filter((f) => f.status >= 500).length;
  console.log(`5xx: ${fivexx}; other wrong answers: ${report.failures.length - fivexx}; server errors logged: ${report.serverErrors.length}; crashes: ${crashes.length}`);
  for (const f of report.failures) console.log(`  ${f.problems.join(", ")}: ${describeRequest(f.request)} → ${f.status} ${f.body.slice(0, 300)}`);
  for (const line of report.serverErrors) console.log(`  logged: ${line.slice(0, 500)}`);
  for (const crash of crashes) console.log(`  crash: ${crash.slice(0, 800)}`);
  process.exitCode = report.failures.length || report.serverErrors.length || crashes.length ? 1 : 0;
} finally {
  await fuzz.server.close(0);
}
if (crashes.length) console.log(`crashes while closing: ${crashes.join("\n").slice(0, 800)}`);
