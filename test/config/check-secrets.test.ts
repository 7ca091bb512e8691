import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readTargetSecrets } from "../../src/config/check-secrets.js";
import { loadConfig } from "../../src/config/load-config.js";
import { isCicdError } from "../../src/shared/errors.js";
import { configErrorOf } from "../helpers/config-error.js";

/** A config folder with a target whose secrets are `secrets/hello.env` (written by the caller). */
function configWithSecrets(secrets = "./secrets/hello.env") {
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-secrets-config-"));
  mkdirSync(path.join(dir, "secrets"));
  const file = path.join(dir, "cicd.yml");
  writeFileSync(
    file,
    `targets:\n  - {name: other, url: 'files:///x', commands: [a], artifacts: [b]}\n  - {name: hello, url: 'files:///x', commands: [a], artifacts: [b], secrets: '${secrets}'}\n`,
  );
  return { dir, file, secrets: path.join(dir, "secrets/hello.env") };
}


describe("secrets at config load", () => {
  it("refuses a value too short to mask, naming the file and the KEY but never the value", () => {
    const { file, secrets } = configWithSecrets();
    writeFileSync(secrets, "GOOD=long-enough-value\nPIN=x7\n");
    const error = configErrorOf(() => loadConfig(file, {}));
    expect(error.message).toBe("cicd.yml: targets[1].secrets: secrets/hello.env: PIN is 2 characters; secrets must be at least 8 characters so they can be masked");
    expect(error.message).not.toContain("x7");
    expect(error.message).not.toContain(path.dirname(file));
  });

  it("accepts long enough values, multi-line blocks and empty values", () => {
    const { file, secrets } = configWithSecrets();
    writeFileSync(secrets, "A=12345678\nEMPTY=\nKEY<<PEM\nline one\nline two\nPEM\n");
    expect(loadConfig(file, {}).targets[1]!.secrets).toBe(secrets);
  });

  it("leaves a file that does not exist yet to the build, which then fails with a clear error", async () => {
    const { file } = configWithSecrets();
    const target = loadConfig(file, {}).targets[1]!;
    await expect(readTargetSecrets(target)).rejects.toThrow("cicd.yml: targets[1].secrets: secrets/hello.env: cannot be read (ENOENT)");
  });

  it("reads the file again for each build: a change applies without a restart, and a now-invalid file fails with the same error", async () => {
    const { file, secrets } = configWithSecrets();
    writeFileSync(secrets, "TOKEN=first-value-123\n");
    const target = loadConfig(file, {}).targets[1]!;
    expect(await readTargetSecrets(target)).toEqual({ TOKEN: "first-value-123" });
    writeFileSync(secrets, "TOKEN=second-value-456\n");
    expect(await readTargetSecrets(target)).toEqual({ TOKEN: "second-value-456" });
    writeFileSync(secrets, "TOKEN=abc\n");
    const error = await readTargetSecrets(target).catch((e: unknown) => e as Error);
    expect(isCicdError(error, "CONFIG_INVALID")).toBe(true);
    expect(error.message).toBe("cicd.yml: targets[1].secrets: secrets/hello.env: TOKEN is 3 characters; secrets must be at least 8 characters so they can be masked");
  });

  it("checks a folder of secrets too, naming the file of the short one", () => {
    const { file, dir } = configWithSecrets("./secrets");
    writeFileSync(path.join(dir, "secrets", "DB_PASSWORD"), "correct-horse\n");
    writeFileSync(path.join(dir, "secrets", "API_KEY"), "short\n");
    expect(configErrorOf(() => loadConfig(file, {})).message).toBe("cicd.yml: targets[1].secrets: secrets: API_KEY is 5 characters; secrets must be at least 8 characters so they can be masked");
  });
});
