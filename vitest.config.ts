import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    // expect.poll waits for what a loaded 2-core machine may take seconds to show (a page in
    // Chromium, a process's exit), not vitest's default second.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 300_000,
    // Docker-backed suites share one engine on a 2-core machine; files run in parallel
    // but each file runs its tests one after the other.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
  },
});
