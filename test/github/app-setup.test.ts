import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDotEnv } from "../../src/server/dot-env.js";
import { appSetup } from "../../src/webhooks/app-setup.js";
import { projectRoot } from "../helpers/images.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startTestServer, testConfig } from "../helpers/server.js";

const PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\nline2\n-----END RSA PRIVATE KEY-----\n";

/** Probot's set-up flow: register the GitHub App from app.yml, credentials written to .env. */
describe("registering the GitHub App from app.yml (manifest flow)", () => {
  let github: Server;
  let cicd: Server;
  let githubHost = "";
  let cicdUrl = "";
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-setup-"));
  const envFile = path.join(dir, ".env");
  const conversions: string[] = [];

  beforeAll(async () => {
    github = createServer((req, res) => {
      conversions.push(`${req.method} ${req.url}`);
      if (req.method === "POST" && req.url === "/api/v3/app-manifests/good-code/conversions") {
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ id: 42, name: "cicd-acme", html_url: `http://${githubHost}/apps/cicd-acme`, pem: PEM, webhook_secret: "whsec-0123456789abcdef", client_id: "Iv1.abc", client_secret: "cs-secret" }));
      } else res.writeHead(404, { "content-type": "application/json" }).end('{"message":"Not Found"}');
    });
    await new Promise<void>((resolve) => github.listen(0, "127.0.0.1", resolve));
    githubHost = `127.0.0.1:${(github.address() as AddressInfo).port}`;
    writeFileSync(envFile, "LOG_LEVEL=debug\n");
    const app = express();
    app.use(appSetup({ manifestFile: path.join(projectRoot, "app.yml"), envFile, publicUrl: "https://ci.acme.test", gheHost: githubHost, gheProtocol: "http", logger: memoryLogger() }));
    cicd = createServer(app);
    await new Promise<void>((resolve) => cicd.listen(0, "127.0.0.1", resolve));
    cicdUrl = `http://127.0.0.1:${(cicd.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    github?.close();
    cicd?.close();
  });

  it("offers the manifest with this server's URLs, trades GitHub's code for the credentials and writes them to .env", async () => {
    const html = await (await fetch(`${cicdUrl}/setup`)).text();
    const action = /action="([^"]+)"/.exec(html)![1]!;
    expect(action).toMatch(new RegExp(`^http://${githubHost}/settings/apps/new\\?state=[0-9a-f]{32}$`));
    const manifest = JSON.parse(/name="manifest" value="([^"]+)"/.exec(html)![1]!.replace(/&quot;/g, '"').replace(/&amp;/g, "&")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: "cicd", url: "https://ci.acme.test", redirect_url: "https://ci.acme.test/setup/callback", hook_attributes: { url: "https://ci.acme.test/api/github/webhooks", active: true } });
    expect(manifest.default_events).toEqual(expect.arrayContaining(["push", "pull_request", "issue_comment"]));
    const state = new URL(action).searchParams.get("state")!;

    expect((await fetch(`${cicdUrl}/setup/callback?code=good-code&state=forged`)).status).toBe(400);
    const done = await fetch(`${cicdUrl}/setup/callback?code=good-code&state=${state}`);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain(`http://${githubHost}/apps/cicd-acme/installations/new`);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const env: NodeJS.ProcessEnv = {};
    loadDotEnv(dir, env);
    expect(env).toEqual({ LOG_LEVEL: "debug", APP_ID: "42", PRIVATE_KEY: PEM, WEBHOOK_SECRET: "whsec-0123456789abcdef", GITHUB_CLIENT_ID: "Iv1.abc", GITHUB_CLIENT_SECRET: "cs-secret" });
    // Closed once registered: a second code is not traded.
    expect((await fetch(`${cicdUrl}/setup/callback?code=good-code&state=${state}`)).status).toBe(409);
    expect(conversions).toEqual(["POST /api/v3/app-manifests/good-code/conversions"]);
    expect(readFileSync(envFile, "utf8")).not.toContain("undefined");
  });

  it("is offered by a server without a GitHub App, at /setup", async () => {
    const server = await startTestServer(testConfig({ targets: [] }));
    try {
      const res = await fetch(`${server.url}/setup`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("Register the GitHub App");
    } finally {
      await server.close(0);
    }
  });
});
