import { chmodSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readGitHubSettings } from "../../src/github/github-settings.js";
import { resolveApiToken } from "../../src/server/api-token.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { testPrivateKey } from "../fixtures/github-app-fixture.js";
import { writeConfigFile } from "../helpers/config-file.js";
import { spawnServer } from "../helpers/server-process.js";
import { configErrorOf } from "../helpers/config-error.js";

const advice = "expected at least 16 random characters. Make one with `openssl rand -hex 32`";


const dataDir = () => path.join(mkdtempSync(path.join(tmpdir(), "cicd-token-")), "data");

describe("tokens and secrets of the server", () => {
  it("refuses a CICD_API_TOKEN shorter than 16 characters, without printing it", () => {
    const error = configErrorOf(() => resolveApiToken({ CICD_API_TOKEN: "hunter2-pass" }, dataDir(), memoryLogger()));
    expect(error.message).toBe(`environment: CICD_API_TOKEN: is 12 characters; ${advice}`);
    expect(error.message).not.toContain("hunter2");
    expect(resolveApiToken({ CICD_API_TOKEN: "0123456789abcdef" }, dataDir(), memoryLogger())).toBe("0123456789abcdef");
  });

  it("refuses a short token in the api-token file too", () => {
    const dir = dataDir();
    resolveApiToken({}, dir, memoryLogger());
    writeFileSync(path.join(dir, "api-token"), "short-token\n");
    expect(configErrorOf(() => resolveApiToken({}, dir, memoryLogger())).message).toBe(`${path.join(dir, "api-token")}: token: is 11 characters; ${advice}`);
  });

  it("refuses a WEBHOOK_SECRET shorter than 16 characters, without printing it", () => {
    const env = { APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: "s3cret-hook" };
    const error = configErrorOf(() => readGitHubSettings(env));
    expect(error.message).toBe(`environment: WEBHOOK_SECRET: is 11 characters; ${advice}`);
    expect(error.message).not.toContain("s3cret-hook");
    expect(readGitHubSettings({ ...env, WEBHOOK_SECRET: "a-long-enough-webhook-secret" })?.webhookSecret).toBe("a-long-enough-webhook-secret");
  });

  it("keeps a generated API token in a 0600 file inside a 0700 folder, and tightens a loose existing file", () => {
    const dir = dataDir();
    const token = resolveApiToken({}, dir, memoryLogger());
    expect(token.length).toBeGreaterThanOrEqual(32);
    const file = path.join(dir, "api-token");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    chmodSync(file, 0o644);
    expect(resolveApiToken({}, dir, memoryLogger())).toBe(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("`cicd server` exits non-zero at start with a short CICD_API_TOKEN and says how to make a good one", async () => {
    const { file: config } = writeConfigFile({ port: 0, host: "127.0.0.1", executor: "local" }, { prefix: "cicd-token-server-" });
    const error = (await spawnServer(config, { CICD_API_TOKEN: "too-short-tok", APP_ID: "", PORT: "" }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain("server exited before listening");
    expect(error.message).toContain(`CICD_API_TOKEN: is 13 characters; ${advice}`);
    expect(error.message).not.toContain("too-short-tok");
  });
});
