import { createHmac } from "node:crypto";
import type { Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import express from "express";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mountGitHub, type GitHubIntegration } from "../../src/webhooks/mount-github.js";
import type { WebhookLimits } from "../../src/github/unverified-bodies.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { FakeBuildService } from "../fixtures/fake-build-service.js";
import { API, WEBHOOK_SECRET, nockInstallationToken, testConfig, testEnv } from "../fixtures/github-app-fixture.js";
import { sendWebhook } from "../fixtures/webhook-server.js";
import { pushPayload } from "../fixtures/webhook-payloads.js";
import { waitUntil } from "../helpers/wait-for.js";

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

/** mountGitHub in an express app on 127.0.0.1 with the given limits on unverified bodies. */
async function startGate(limits: Partial<WebhookLimits>) {
  nockInstallationToken().persist();
  nock(API).persist().post(/\/repos\/.+\/check-runs$/).reply(201, { id: 7, html_url: "https://github.com/x/runs/7" });
  const service = new FakeBuildService();
  const logger = memoryLogger();
  const app = express();
  const github = (await mountGitHub(app, { service, config: testConfig(), logger, env: testEnv, tuning: { throttle: false }, webhookLimits: limits })) as GitHubIntegration;
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    service,
    logger,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await github.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const sign = (body: string) => `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`;

interface RawDelivery {
  socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  answer: Promise<string>;
}

/**
 * A webhook sent by hand: the headers (declaring `length` bytes of body, signed as if the body
 * were `signedBody`) and only `sent` of the body. The answer resolves with what the server
 * wrote when the connection closes; write errors after the server closed are expected.
 */
function rawDelivery(port: number, o: { length: number; sent: string | Buffer; id: string; signedBody?: string; signature?: string }): Promise<RawDelivery> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const answer = new Promise<string>((done) => {
      socket.on("data", (chunk) => (received += chunk.toString("latin1")));
      socket.on("close", () => done(received));
    });
    socket.on("error", () => undefined);
    socket.once("connect", () => {
      socket.write(
        `POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${o.length}\r\n` +
          `X-GitHub-Event: push\r\nX-GitHub-Delivery: ${o.id}\r\nX-Hub-Signature-256: ${o.signature ?? sign(o.signedBody ?? "{}")}\r\n\r\n`,
      );
      socket.write(o.sent, () => resolve({ socket, answer }));
    });
    socket.once("error", reject);
  });
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe("the webhook gate", () => {
  it("refuses a declared length over 25 MB at once with 413, before any of the body is sent", async () => {
    const s = await startGate({});
    try {
      const d = await rawDelivery(s.port, { length: 25 * 1024 * 1024 + 1, sent: "", id: "huge" });
      const answer = await d.answer; // the server answered and closed without waiting for a byte
      expect(statusOf(answer)).toBe(413);
      expect(answer).toMatch(/connection: close/i);
      expect(answer).toContain('{"error":"payload larger than 26214400 bytes"}');
      expect(s.service.all()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("cuts a slow sender off with 408 and keeps taking webhooks", async () => {
    const s = await startGate({ bodyTimeoutMs: 200 });
    try {
      const body = JSON.stringify(pushPayload());
      const slow = await rawDelivery(s.port, { length: body.length, sent: body.slice(0, 100), id: "slow", signedBody: body });
      const answer = await slow.answer;
      expect(statusOf(answer)).toBe(408);
      expect(answer).toContain("the request body did not arrive in time");
      expect((await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET, "fast")).status).toBe(200);
      expect(s.service.requests.map((r) => r.deliveryId)).toEqual(["fast"]);
      expect(s.logger.lines.some((l) => l.includes("Webhook body too slow; cut off") && l.includes("delivery=slow"))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("answers 411 without a content-length, and 400 for a signature of the wrong form before reading the body", async () => {
    const s = await startGate({});
    try {
      const chunked = await fetch(`${s.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "c", "x-hub-signature-256": sign("{}") },
        body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("{}")), c.close()) }),
        duplex: "half",
      } as RequestInit);
      expect(chunked.status).toBe(411);
      // A signature that cannot match (sha1, truncated) is answered without waiting for the body.
      for (const signature of ["sha1=0123456789abcdef0123456789abcdef01234567", sign("{}").slice(0, 40)]) {
        const answer = await (await rawDelivery(s.port, { length: 1000, sent: "", id: "bad-sig", signature })).answer;
        expect(statusOf(answer)).toBe(400);
        expect(answer).toContain('{"error":"signature does not match event payload and secret"}');
      }
    } finally {
      await s.close();
    }
  });

  it("refuses deliveries over the cap at once with 503 and Retry-After, and still takes a valid webhook during a flood of 100 slow connections", async () => {
    const maxBodies = 8;
    // Long enough that opening the flood never makes its own bodies look stalled (that took up
    // to 1.8 s on a loaded 2-core machine); the body timeout is far away, so every answer below
    // comes from the limits, not from a timer.
    const stalledAfterMs = 5_000;
    const s = await startGate({ maxBodies, stalledAfterMs, bodyTimeoutMs: 600_000 });
    const flood: RawDelivery[] = [];
    try {
      for (let i = 0; i < 100; i++) flood.push(await rawDelivery(s.port, { length: 4096, sent: "{", id: `slow-${i}` }));
      const answered: string[] = [];
      flood.forEach((d) => void d.answer.then((a) => answered.push(a)));
      // The gate holds at most maxBodies unverified bodies: everything else is answered now.
      await waitUntil(() => answered.length >= 100 - maxBodies, { timeout: 30_000 });
      const refused = answered.filter((a) => statusOf(a) === 503);
      expect(refused.length).toBe(100 - maxBodies);
      expect(refused[0]).toMatch(/retry-after: 1/i);
      expect(refused[0]).toContain("too many webhook deliveries in flight");

      // GitHub's delivery arrives once the flood's bodies have been stalled a while: one of them
      // is cut off (408) to make room, and the delivery is queued.
      await new Promise((resolve) => setTimeout(resolve, stalledAfterMs + 100));
      const valid = await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET, "during-flood");
      expect(valid.status).toBe(200);
      expect(s.service.requests.map((r) => r.deliveryId)).toEqual(["during-flood"]);
      await waitUntil(() => answered.length >= 100 - maxBodies + 1, { timeout: 30_000 });
      expect(answered.filter((a) => statusOf(a) === 408)).toHaveLength(1);
      expect(s.logger.lines.filter((l) => l.includes("Too many webhook bodies in flight"))).toHaveLength(1);
    } finally {
      flood.forEach((d) => d.socket.destroy());
      await s.close();
    }
  });

  it("keeps memory bounded under a flood of 100 slow connections that each send 1 MB of a 25 MB body", async () => {
    // Nothing is cut off as stalled however long the flood takes to send: every answer is 503.
    const s = await startGate({ bodyTimeoutMs: 600_000, stalledAfterMs: 600_000 });
    const flood: RawDelivery[] = [];
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    try {
      const before = used();
      const megabyte = Buffer.alloc(1024 * 1024, "x");
      for (let i = 0; i < 100; i++) flood.push(await rawDelivery(s.port, { length: 25 * 1024 * 1024, sent: megabyte, id: `big-${i}` }));
      const answered: string[] = [];
      flood.forEach((d) => void d.answer.then((a) => answered.push(a)));
      // One 25 MB body fits the default 32 MB of unverified bytes; the other 99 are refused unread.
      await waitUntil(() => answered.length >= 99, { timeout: 30_000 });
      const growth = used() - before;
      // Buffering every body as it arrived held 100 MB here; the bound is loose on purpose.
      expect(growth).toBeLessThan(48 * 1024 * 1024);
      expect(answered.every((a) => statusOf(a) === 503)).toBe(true);
    } finally {
      flood.forEach((d) => d.socket.destroy());
      await s.close();
    }
  });
});

/** Waits (polling) until `ready` holds; the test's own timeout bounds it. */
