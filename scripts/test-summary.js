// Prints vitest's result file as one plain closing line, "tests: N passed, N failed, N skipped",
// so a reader of the CI log (human or tool) sees the count without parsing vitest's table.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? "test-results/vitest.json";
const results = JSON.parse(readFileSync(file, "utf8"));
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
console.log(`tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = results.numFailedTests > 0 || results.numPassedTests === 0 ? 1 : 0;
