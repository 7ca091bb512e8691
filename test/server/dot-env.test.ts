import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadDotEnv } from "../../src/server/dot-env.js";

describe(".env beside the config, as Probot apps keep it", () => {
  it("fills in what the environment lacks, the real environment winning, and names what it set", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cicd-dotenv-"));
    writeFileSync(path.join(dir, ".env"), "# the app\nAPP_ID=123\nCICD_API_TOKEN=\nWEBHOOK_SECRET=\"from the file, 0123456789\"\nexport LOG_LEVEL=debug\n");
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: "warn" };
    expect(loadDotEnv(dir, env)).toEqual(["APP_ID", "WEBHOOK_SECRET"]);
    expect(env).toEqual({ LOG_LEVEL: "warn", APP_ID: "123", WEBHOOK_SECRET: "from the file, 0123456789" });
  });

  it("does nothing without a .env", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(loadDotEnv(mkdtempSync(path.join(tmpdir(), "cicd-dotenv-")), env)).toEqual([]);
    expect(env).toEqual({});
  });
});
