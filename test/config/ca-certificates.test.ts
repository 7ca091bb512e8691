import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readCaCertificates } from "../../src/config/ca-certificates.js";
import { parseConfig } from "../../src/config/load-config.js";
import { prepareRequest } from "../../src/manager/build-request.js";
import { newBuildFor } from "../../src/store/build-row.js";
import { isCicdError } from "../../src/shared/errors.js";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEsecret\n-----END PRIVATE KEY-----";

function load(target: Record<string, unknown>, files: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-ca-config-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return parseConfig({ targets: [{ name: "app", url: "https://example.com/app.git", commands: ["make"], artifacts: ["out/*"], ...target }] }, { file: path.join(dir, "cicd.yml"), env: {} });
}

describe("a target's caCertificates and env in cicd.yml", () => {
  it("are read relative to the file, and reach every build's request, forks' too; a key in the file never does", async () => {
    const config = load({ caCertificates: "company-ca.pem", env: { HTTPS_PROXY: "http://proxy.example.com:3128" } }, { "company-ca.pem": `${KEY}\n${CERT}\n` });
    const target = config.targets[0]!;
    for (const untrusted of [false, true]) {
      const build = { ...newBuildFor({ target: "app", trigger: "push", ref: "refs/heads/main" }, { key: "k0000001", logPath: "/dev/null", createdAt: new Date().toISOString(), repository: null }), number: 1, untrusted };
      const { request, secrets } = await prepareRequest(build as never, target);
      expect(request.vars).toEqual({ HTTPS_PROXY: "http://proxy.example.com:3128" });
      expect(request.caCertificates).toBe(`${CERT}\n`);
      expect(secrets).not.toContain("http://proxy.example.com:3128");
    }
  });

  it("refuse at load a file that is missing or holds no certificate, naming the target and the file only", () => {
    for (const [files, why] of [[{}, /company-ca\.pem cannot be read \(ENOENT\)/], [{ "company-ca.pem": KEY }, /company-ca\.pem holds no PEM certificate/]] as const) {
      let error: unknown;
      try {
        load({ caCertificates: "company-ca.pem" }, files);
      } catch (e) {
        error = e;
      }
      expect(isCicdError(error, "CONFIG_INVALID")).toBe(true);
      expect((error as Error).message).toMatch(/target app: caCertificates/);
      expect((error as Error).message).toMatch(why);
      expect((error as Error).message).not.toContain(tmpdir());
    }
    expect(() => load({ env: { "not a name": "x" } })).toThrow(/targets\[0\]\.env\.not a name: expected a mapping of variable names \(like HTTPS_PROXY\) to values/);
  });

  it("are read again for each build: a renewed file applies without a restart", async () => {
    const config = load({ caCertificates: "company-ca.pem" }, { "company-ca.pem": CERT });
    const target = config.targets[0]!;
    const renewed = CERT.replace("MIIBfake", "MIIBrenewed");
    writeFileSync(target.caCertificates!, renewed);
    expect(await readCaCertificates(target)).toBe(`${renewed}\n`);
  });
});
