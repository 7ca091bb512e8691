/**
 * Webhook fuzzing, the long run: `npx tsx scripts/fuzz-webhooks.ts [--runs 10000] [--seed N]
 * [--concurrency 4]`. Starts the webhook endpoint in-process (test/fuzz/webhook-fuzz.ts says
 * what varies), sends the validly signed, mutated deliveries, and prints the counts: cases,
 * answers by class and by status, crashes (no answer), and every wrong answer with its delivery.
 * Exits 1 if there is one.
 */
import { parseArgs } from "node:util";
import { describeFailure, fuzzWebhooks, startFuzzServer } from "../test/fuzz/webhook-fuzz.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "10000" }, seed: { type: "string" }, concurrency: { type: "string", default: "4" } },
});
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

const fuzz = await startFuzzServer();
try {
  console.log(`fuzzing ${fuzz.url}/api/github/webhooks with ${runs} validly signed deliveries (seed ${seed})`);
  const report = await fuzzWebhooks({ ...fuzz, runs, seed, concurrency: Number(values.concurrency), onProgress: (done) => process.stdout.write(`  ${done}/${runs}\r`) });
  const sorted = (counts: Record<string, number>) => Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join(", ");
  console.log(`cases: ${report.cases} in ${(report.ms / 1000).toFixed(1)} s (${Math.round(report.cases / (report.ms / 1000))}/s)`);
  console.log(`by class: ${sorted(report.byClass)}`);
  console.log(`by status: ${sorted(report.byStatus)}`);
  const fivexx = report.failures.filter((f) => f.status >= 500).length;
  console.log(`crashes (no answer): ${report.crashes}; 5xx: ${fivexx}; other wrong answers: ${report.failures.length - fivexx - report.crashes}`);
  console.log(`builds requested: ${fuzz.service.requests.length}; not storable: ${report.badRequests.length}; server errors logged: ${report.serverErrors.length}`);
  for (const f of report.failures) console.log(`  ${describeFailure(f)}`);
  for (const line of report.badRequests) console.log(`  not storable: ${line}`);
  for (const line of report.serverErrors) console.log(`  logged: ${line.slice(0, 500)}`);
  process.exitCode = report.failures.length || report.badRequests.length || report.serverErrors.length ? 1 : 0;
} finally {
  await fuzz.close();
}
