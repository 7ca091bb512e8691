import express from "express";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountGitHub } from "../../src/webhooks/mount-github.js";
import { isCicdError } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { FakeBuildService } from "../fixtures/fake-build-service.js";
import { API, INSTALLATION_TOKEN, WEBHOOK_SECRET, nockInstallationToken, testConfig, testEnv, testPrivateKey } from "../fixtures/github-app-fixture.js";
import { sendWebhook, startWebhookServer } from "../fixtures/webhook-server.js";
import { pushPayload } from "../fixtures/webhook-payloads.js";

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
});
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

const mount = (env: NodeJS.ProcessEnv) =>
  mountGitHub(express(), { service: new FakeBuildService(), config: testConfig(), logger: memoryLogger(), env });

describe("mountGitHub settings", () => {
  it("runs without GitHub when APP_ID is unset", async () => {
    const logger = memoryLogger();
    const result = await mountGitHub(express(), { service: new FakeBuildService(), config: testConfig(), logger, env: {} });
    expect(result).toBeUndefined();
    expect(logger.lines.some((l) => l.includes("GitHub settings absent; REST triggers only"))).toBe(true);
  });

  it("refuses APP_ID without WEBHOOK_SECRET", async () => {
    const error = await mount({ APP_ID: "123", PRIVATE_KEY: testPrivateKey }).catch((e: unknown) => e);
    expect(isCicdError(error, "CONFIG_INVALID")).toBe(true);
    expect((error as Error).message).toContain(
      "WEBHOOK_SECRET is required when APP_ID is set; without it Probot would accept webhooks signed with the well-known secret 'development'",
    );
  });

  it("refuses APP_ID without a private key, or with a key that is not PEM, without printing it", async () => {
    const missing = await mount({ APP_ID: "123", WEBHOOK_SECRET }).catch((e: unknown) => e);
    expect(isCicdError(missing, "CONFIG_INVALID")).toBe(true);
    expect((missing as Error).message).toMatch(/PRIVATE_KEY.*PRIVATE_KEY_PATH/);
    const garbage = await mount({ APP_ID: "123", WEBHOOK_SECRET, PRIVATE_KEY: "not-a-key-s3cr3t" }).catch((e: unknown) => e);
    expect((garbage as Error).message).toContain("expected a PEM private key");
    expect((garbage as Error).message).not.toContain("s3cr3t");
    const badPath = await mount({ APP_ID: "123", WEBHOOK_SECRET, PRIVATE_KEY_PATH: "/nonexistent/app.pem" }).catch((e: unknown) => e);
    expect((badPath as Error).message).toContain("/nonexistent/app.pem");
  });

  it("accepts the key with escaped newlines as many hosts store it", async () => {
    const integration = await mount({ ...testEnv, PRIVATE_KEY: testPrivateKey.replace(/\n/g, "\\n") });
    expect(integration).toBeDefined();
    await integration!.close();
  });
});

describe("signed webhooks over HTTP", () => {
  it("rejects a bad signature and queues nothing; queues a correctly signed push and reports its check run", async () => {
    const s = await startWebhookServer(testConfig({ publicUrl: "https://ci.example.com" }), testEnv);
    try {
      const bad = await sendWebhook(s.url, "push", pushPayload(), "development");
      expect(bad.status).toBe(400);
      expect(s.service.all()).toEqual([]);
      const unsigned = await fetch(`${s.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "x" },
        body: JSON.stringify(pushPayload()),
      });
      expect(unsigned.status).toBe(400);
      expect(s.service.all()).toEqual([]);

      const bodies: Record<string, unknown>[] = [];
      nockInstallationToken();
      nock(API).post("/repos/Codertocat/Hello-World/check-runs", (b) => (bodies.push(b), true)).reply(201, { id: 5, html_url: "https://github.com/x/runs/5" });
      const good = await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET, "delivery-ok");
      expect(good.status).toBe(200);
      // Answered once the build is queued (durably, in the real service).
      const [build] = s.service.all();
      expect(build).toMatchObject({ target: "hello", status: "queued", ref: "refs/heads/master", installationId: 1 });
      await s.github.idle();
      expect(bodies).toEqual([expect.objectContaining({ name: "cicd/hello", external_id: build!.key, status: "queued" })]);
      expect(nock.pendingMocks()).toEqual([]);

      // Other routes still work behind the middleware.
      expect(await (await fetch(`${s.url}/after`)).json()).toEqual({ ok: true });
      expect(s.logger.lines.join("\n")).not.toContain(INSTALLATION_TOKEN);
      expect(s.logger.lines.join("\n")).not.toContain(WEBHOOK_SECRET);
    } finally {
      await s.close();
    }
  });

  it("answers 500 when the build cannot be queued, so the failure shows in GitHub's delivery log", async () => {
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      s.service.trigger = async () => {
        throw new Error("database is locked");
      };
      const res = await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET);
      expect(res.status).toBe(500);
      // The failure's own text stays in the server's log.
      expect(await res.text()).not.toContain("database is locked");
    } finally {
      await s.close();
    }
  });
});
