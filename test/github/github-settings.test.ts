import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGitHubSettings } from "../../src/github/github-settings.js";
import { isCicdError } from "../../src/shared/errors.js";
import { testPrivateKey } from "../fixtures/github-app-fixture.js";

const base = { APP_ID: "123", WEBHOOK_SECRET: "a-long-enough-webhook-secret" };
const keyOf = (env: NodeJS.ProcessEnv) => readGitHubSettings({ ...base, ...env })?.privateKey;
const failure = (env: NodeJS.ProcessEnv): Error => {
  try {
    readGitHubSettings({ ...base, ...env });
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected readGitHubSettings to throw");
};

describe("the GitHub App's private key", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "cicd-key-"));
    await writeFile(path.join(dir, "app.pem"), testPrivateKey);
    await writeFile(path.join(dir, "notes.pem"), "not a key s3cr3t-notes");
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("reads PEM text, escaped newlines and base64 of a PEM alike", () => {
    const pem = testPrivateKey.trim();
    expect(keyOf({ PRIVATE_KEY: testPrivateKey })?.trim()).toBe(pem);
    expect(keyOf({ PRIVATE_KEY: testPrivateKey.replace(/\n/g, "\\n") })?.trim()).toBe(pem);
    expect(keyOf({ PRIVATE_KEY: Buffer.from(testPrivateKey).toString("base64") })?.trim()).toBe(pem);
  });

  it("reads a PEM pasted on one line (newlines turned into spaces), as Probot does", () => {
    const oneLine = testPrivateKey.trim().replace(/\n/g, " ");
    expect(keyOf({ PRIVATE_KEY: oneLine })?.trim()).toBe(testPrivateKey.trim());
  });

  it("reads the file PRIVATE_KEY_PATH and refuses one that is missing or not a key, naming the file but never its text", () => {
    expect(keyOf({ PRIVATE_KEY_PATH: path.join(dir, "app.pem") })).toBe(testPrivateKey);
    const missing = failure({ PRIVATE_KEY_PATH: path.join(dir, "gone.pem") });
    expect(isCicdError(missing, "CONFIG_INVALID")).toBe(true);
    expect(missing.message).toContain("expected a readable .pem file");
    expect(missing.message).toContain(path.join(dir, "gone.pem"));
    const notKey = failure({ PRIVATE_KEY_PATH: path.join(dir, "notes.pem") });
    expect(notKey.message).toContain("PRIVATE_KEY_PATH");
    expect(notKey.message).toContain("expected a PEM private key");
    expect(notKey.message).not.toContain("s3cr3t");
  });

  it("refuses a PRIVATE_KEY that is not a key with our message, never the reader's or the value", () => {
    const error = failure({ PRIVATE_KEY: "not-a-key-s3cr3t" });
    expect(isCicdError(error, "CONFIG_INVALID")).toBe(true);
    expect(error.message).toContain("expected a PEM private key");
    expect(error.message).not.toContain("s3cr3t");
    expect(error.message).not.toContain("@probot/get-private-key");
  });

  it("never picks up a stray .pem of the working folder when no key is named", () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(failure({}).message).toMatch(/PRIVATE_KEY.*PRIVATE_KEY_PATH/);
    } finally {
      process.chdir(cwd);
    }
  });
});
