import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newBuildKey } from "../../src/builder/build-key.js";
import { runBuild } from "../../src/builder/run-build.js";
import { createBench, type Bench } from "./harness.js";

/**
 * A builder stopped from outside (SIGTERM: its container or engine going away) while it still
 * fetches the source: the build was cut short, not failed, so its outcome says CANCELLED and
 * the manager tries it again (a source_unavailable failure would end the build for good).
 */
describe("a build stopped while it fetches its source", () => {
  let bench: Bench;
  const stalled = createServer(() => undefined);
  beforeAll(async () => {
    bench = await createBench();
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    stalled.closeAllConnections();
    stalled.close();
    await bench.cleanup();
  });

  it("ends CANCELLED, with what it was doing as the reason", async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 500);
    const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}/hello.git`;
    const outcome = await runBuild(
      { key: newBuildKey(), target: "hello", url, ref: "main", commands: ["true"], artifacts: ["*"] },
      { servicefs: bench.servicefs, workdir: bench.workdir, logDir: bench.logDir, out: () => undefined, signal: abort.signal },
    );
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.code).toBe("CANCELLED");
    expect(outcome.reason).toContain(`Could not fetch the source ${url}`);
    expect(await bench.leftovers()).toEqual([]);
  }, 30_000);
});
