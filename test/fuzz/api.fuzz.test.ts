import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/server.js";
import { describeRequest, fuzzApi, startFuzzServer, type FuzzContext } from "./api-fuzz.js";

/**
 * About 1,000 random requests over every route of /api/v1 (see api-fuzz.ts for what varies):
 * no answer at or above 500, every error answer JSON `{"error","code"}` without the server's
 * paths, nothing logged as a failed request, and the server still answers afterwards.
 * `npx tsx scripts/fuzz-api.ts` runs 10,000 and prints the counts.
 */
let fuzz: { server: TestServer; ctx: FuzzContext; hidden: string[] };
beforeAll(async () => {
  fuzz = await startFuzzServer();
});
afterAll(() => fuzz?.server.close(0));

describe("REST API fuzzing", () => {
  it("answers 1,000 random requests without a 5xx or a crash", async () => {
    // A fixed seed per run of CI would test the same 1,000 forever; a fresh one is printed so a
    // failure can be replayed with `npx tsx scripts/fuzz-api.ts --seed N --runs 1000`.
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const report = await fuzzApi({ ...fuzz, runs: Number(process.env.FUZZ_RUNS ?? 1000), seed });
    console.log(`api fuzz: seed ${seed}, ${report.cases} cases in ${report.ms} ms, ${JSON.stringify(report.byClass)}`);
    const failures = report.failures.map((f) => `${f.problems.join(", ")}: ${describeRequest(f.request)} → ${f.status} ${f.body.slice(0, 200)}`);
    expect(failures).toEqual([]);
    expect(report.serverErrors).toEqual([]);
    expect(report.cases).toBe(Number(process.env.FUZZ_RUNS ?? 1000));
    expect((await fuzz.server.api("/api/v1/targets")).status).toBe(200);
  }, 180_000);
});
