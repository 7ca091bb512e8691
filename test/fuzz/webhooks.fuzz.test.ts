import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendWebhook } from "../fixtures/webhook-server.js";
import { WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { pushPayload } from "../fixtures/webhook-payloads.js";
import { describeFailure, fuzzWebhooks, startFuzzServer } from "./webhook-fuzz.js";

/**
 * About 1,000 validly signed deliveries of every event GitHub sends, mutated (webhook-fuzz.ts
 * says how), to the webhook endpoint over real HTTP: every one answered, none at or above 500,
 * error answers JSON without internal error text, every build request storable, nothing logged
 * as a failed webhook, and the endpoint still queues a good push afterwards.
 * `npx tsx scripts/fuzz-webhooks.ts` runs 10,000 and prints the counts.
 */
let fuzz: Awaited<ReturnType<typeof startFuzzServer>>;
beforeAll(async () => {
  fuzz = await startFuzzServer();
});
afterAll(() => fuzz?.close());

describe("webhook fuzzing", () => {
  it("answers 1,000 mutated, validly signed deliveries without a 5xx or a crash", async () => {
    // A fresh seed each run, printed, so a failure can be replayed with
    // `npx tsx scripts/fuzz-webhooks.ts --seed N --runs 1000`.
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const runs = Number(process.env.FUZZ_RUNS ?? 1000);
    const report = await fuzzWebhooks({ ...fuzz, runs, seed, concurrency: 2 });
    console.log(`webhook fuzz: seed ${seed}, ${report.cases} cases in ${report.ms} ms, ${JSON.stringify(report.byClass)}`);
    expect(report.failures.map(describeFailure)).toEqual([]);
    expect(report.crashes).toBe(0);
    expect(report.badRequests).toEqual([]);
    expect(report.serverErrors).toEqual([]);
    expect(report.cases).toBe(runs);
    // Every class of answer came up: the mutations reach the handlers, not only the shape check.
    expect(report.byClass["2xx"]).toBeGreaterThan(runs / 10);
    expect(report.byClass["4xx"]).toBeGreaterThan(runs / 10);
    expect(fuzz.service.requests.length).toBeGreaterThan(0);
    const after = await sendWebhook(fuzz.url, "push", pushPayload(), WEBHOOK_SECRET, "after-fuzz");
    expect(after.status).toBe(200);
  }, 120_000);
});
