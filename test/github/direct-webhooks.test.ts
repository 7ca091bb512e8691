import { createHmac } from "node:crypto";
import { connect } from "node:net";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { API, WEBHOOK_SECRET, nockInstallationToken, testConfig, testEnv } from "../fixtures/github-app-fixture.js";
import { handlerHarness } from "../fixtures/handler-harness.js";
import { sendWebhook, startWebhookServer } from "../fixtures/webhook-server.js";
import { examplePayload, pushPayload, type Payload } from "../fixtures/webhook-payloads.js";

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

/** GitHub's side for the check runs of everything these tests queue. */
function acceptCheckRuns(): void {
  nockInstallationToken().persist();
  nock(API).persist().post(/\/repos\/.+\/check-runs$/).reply(201, { id: 7, html_url: "https://github.com/x/runs/7" });
}

const post = (url: string, headers: Record<string, string>, body: string) =>
  fetch(`${url}/api/github/webhooks`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
const sign = (body: string, secret = WEBHOOK_SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

describe("push and pull_request webhooks taken before Probot", () => {
  it("queue exactly what the Probot handlers queue for the same deliveries", async () => {
    const tagged = examplePayload("push", undefined, (p) => p.ref.startsWith("refs/tags/") && !p.deleted);
    const skipped = pushPayload();
    skipped.head_commit.message = "docs only [skip ci]";
    const deleted = pushPayload();
    deleted.deleted = true;
    const fork = examplePayload("pull_request", "synchronize");
    fork.pull_request.head.repo.full_name = "forker/Hello-World";
    const deliveries: [string, Payload][] = [
      ["push", pushPayload("refs/heads/master")],
      ["push", pushPayload("refs/heads/release/1.2")],
      ["push", pushPayload("refs/heads/feature/x")],
      ["push", tagged],
      ["push", skipped],
      ["push", deleted],
      ["pull_request", examplePayload("pull_request", "opened")],
      ["pull_request", fork],
      ["pull_request", examplePayload("pull_request", "closed")],
    ];
    acceptCheckRuns();
    const s = await startWebhookServer(testConfig(), testEnv);
    const probot = await handlerHarness();
    try {
      for (const [i, [name, payload]] of deliveries.entries()) {
        const res = await sendWebhook(s.url, name, payload, WEBHOOK_SECRET, `delivery-${i}`);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("ok\n");
        await probot.receive(name, payload, `delivery-${i}`);
      }
      expect(s.service.requests.length).toBeGreaterThanOrEqual(6);
      expect(s.service.requests).toEqual(probot.service.requests);
      expect(s.logger.lines.some((l) => l.includes("Push marked [skip ci]"))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("answers 400 and queues nothing for a wrong signature, a signature of another body, or a body that is not JSON", async () => {
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      const body = JSON.stringify(pushPayload());
      const headers = { "x-github-event": "push", "x-github-delivery": "d-1" };
      const wrongSecret = await post(s.url, { ...headers, "x-hub-signature-256": sign(body, "development") }, body);
      expect(wrongSecret.status).toBe(400);
      expect(await wrongSecret.json()).toEqual({ error: "signature does not match event payload and secret" });
      const otherBody = await post(s.url, { ...headers, "x-hub-signature-256": sign(body) }, body.replace("master", "main"));
      expect(otherBody.status).toBe(400);
      const truncated = await post(s.url, { ...headers, "x-hub-signature-256": sign(body).slice(0, 40) }, body);
      expect(truncated.status).toBe(400);
      const notJson = "{ not json";
      const garbage = await post(s.url, { ...headers, "x-hub-signature-256": sign(notJson) }, notJson);
      expect(garbage.status).toBe(400);
      expect(await garbage.json()).toEqual({ error: "Invalid JSON" });
      expect(s.service.all()).toEqual([]);
      expect(s.logger.lines.some((l) => l.includes("signature does not match") && l.includes("delivery=d-1"))).toBe(true);
      expect(s.logger.lines.join("\n")).not.toContain(WEBHOOK_SECRET);
    } finally {
      await s.close();
    }
  });

  it("queues nothing for a webhook whose sender goes away mid-body, and takes the next one", async () => {
    acceptCheckRuns();
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      const body = JSON.stringify(pushPayload());
      const { port } = new URL(s.url);
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () => {
          socket.write(
            `POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
              `X-GitHub-Event: push\r\nX-GitHub-Delivery: cut\r\nX-Hub-Signature-256: ${sign(body)}\r\n\r\n${body.slice(0, 100)}`,
            () => setTimeout(() => (socket.destroy(), resolve()), 50),
          );
        });
        socket.on("error", reject);
      });
      expect((await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET, "whole")).status).toBe(200);
      expect(s.service.requests.map((r) => r.deliveryId)).toEqual(["whole"]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(s.logger.lines.some((l) => l.includes("Could not read a webhook") && l.includes("delivery=cut"))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("queues a delivery GitHub sends again only once", async () => {
    acceptCheckRuns();
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      for (let i = 0; i < 2; i++) expect((await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET, "same-delivery")).status).toBe(200);
      expect(s.service.all().map((b) => b.target)).toEqual(["hello"]);
      expect(s.logger.lines.some((l) => l.includes("build already queued") && l.includes("delivery=same-delivery"))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("hands every other event to Probot once verified, and answers as Probot did to other requests", async () => {
    acceptCheckRuns();
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      // check_suite rerequested goes through Probot (loaded on this first event) and queues a rebuild.
      const suite = examplePayload("check_suite", "rerequested");
      suite.installation.id = 1;
      expect((await sendWebhook(s.url, "check_suite", suite, WEBHOOK_SECRET, "suite-1")).status).toBe(200);
      expect(s.service.all().map((b) => [b.trigger, b.sha])).toContainEqual(["rerun", suite.check_suite.head_sha]);
      // Probot's answers stay: a form-encoded push, and a GET of the webhook path.
      const form = await fetch(`${s.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-github-event": "push", "x-github-delivery": "f", "x-hub-signature-256": "sha256=00" },
        body: "payload=%7B%7D",
      });
      expect(form.status).toBe(415);
      expect((await fetch(`${s.url}/api/github/webhooks`)).status).toBe(404);
      expect(s.service.all().filter((b) => b.trigger === "push")).toEqual([]);
      await s.github.idle(); // every build's check run was created
    } finally {
      await s.close();
    }
  });
});
