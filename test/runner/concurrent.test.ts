import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inProcessRunner, makeTarget, publishScript, readBuilds, waitUntil, type Target } from "./helpers.js";

const publisher = path.join(import.meta.dirname, "fixtures", "publish-builds.ts");

let t: Target;
beforeEach(async () => {
  t = await makeTarget();
});
afterEach(async () => {
  await t.cleanup();
});

function publishInOtherProcess(prefix: string, count: number, body: string): Promise<number | null> {
  const child = spawn(process.execPath, ["--import", "tsx", publisher, t.fs.root, t.name, prefix, String(count), body], { stdio: "inherit" });
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("a builder publishing while the runner marks builds bad", () => {
  it("loses no build and no mark, round after round", async () => {
    for (let round = 0; round < 4; round++) {
      const initial = Array.from({ length: 15 }, (_, i) => `r${round}-old-${i}`);
      for (const key of initial) await publishScript(t, key, "exit 1");
      const before = (await readBuilds(t)).builds.length;
      // Every build fails at once, so the runner marks bad as fast as it can while the other
      // process appends; the runner also picks up builds that land while it works.
      const published = publishInOtherProcess(`r${round}-new`, 40, "exit 1");
      await waitUntil(async () => (await readBuilds(t)).builds.length > before, "the publisher to start");
      const { runner } = inProcessRunner(t);
      const result = await runner.run();
      expect(await published).toBe(0);
      expect(result.exitCode).toBe(1);

      const doc = await readBuilds(t);
      expect(doc.builds).toHaveLength(before + 40);
      expect(new Set(doc.builds.map((b) => b.key)).size).toBe(doc.builds.length);
      const ofRound = doc.builds.filter((b) => b.key.startsWith(`r${round}-`));
      // Everything the runner tried is bad with its exit code; everything else stayed good.
      const tried = new Set(result.tried);
      for (const b of ofRound) {
        expect(b.status, b.key).toBe(tried.has(b.key) ? "bad" : "good");
        if (tried.has(b.key)) expect(b.exitCode, b.key).toBe(1);
      }
      for (const key of initial) expect(tried.has(key), key).toBe(true);
      // The runner really overlapped with the publisher: it tried some of the new builds too.
      expect(result.tried.some((k) => k.includes("-new-")), result.tried.join(",")).toBe(true);
      // Leave nothing good for the next round's runner.
      for (const b of ofRound) if (b.status === "good") await t.fs.builds(t.name).markBad(b.key, { reason: "test cleanup" });
    }
  });
});
