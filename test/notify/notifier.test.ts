import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig, type Config } from "../../src/config/load-config.js";
import type { Build } from "../../src/manager/types.js";
import type { NotificationRecord } from "../../src/notify/notifier.js";
import { Notifier } from "../../src/notify/notifier.js";
import { ServiceFs } from "../../src/servicefs/index.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { writeConfigFile } from "../helpers/config-file.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
  url: string;
}

/** A hook receiver on 127.0.0.1: `answer(n)` decides the n-th request's fate (from 1). */
async function receiver(answer: (n: number, res: ServerResponse) => void): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), url: req.url ?? "" });
      answer(got.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receivers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, server };
}

const servers: TestServer[] = [];
const receivers: Server[] = [];
const notifiers: Notifier[] = [];
afterEach(async () => {
  for (const n of notifiers.splice(0)) n.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const r of receivers.splice(0)) {
    r.closeAllConnections();
    r.close();
  }
});

const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
const target = (name: string, commands: string[], more: Record<string, unknown> = {}) => ({ name, url: "files:///nowhere", commands, artifacts: ["artifact.txt"], ...more });
const SECRET = "hook-secret-0123456789";

/**
 * A real server (fake executor) without hooks, and a Notifier of our own on its manager with
 * `notify` and short back-offs: the retries are seen in milliseconds, not minutes.
 */
async function setUp(notify: Record<string, unknown>[], options: { retryDelaysMs?: number[]; timeoutMs?: number; publicUrl?: string } = {}) {
  const targets = [target("ok", ["echo fine"]), target("broken", ["exit 3"])];
  const server = await startTestServer(testConfig({ targets }), { executor: new FakeExecutor() });
  servers.push(server);
  const config: Config = parseConfig(
    { publicUrl: options.publicUrl, targets: targets.map((t) => ({ ...t, notify })) },
    { file: server.config.file, env: {} },
  );
  const logger = memoryLogger();
  const notifier = new Notifier({ config, service: server.manager, logger, retryDelaysMs: options.retryDelaysMs ?? [20, 20, 20, 20], timeoutMs: options.timeoutMs ?? 2_000 });
  notifier.start();
  notifiers.push(notifier);
  const build = async (name: string) => {
    const { build } = await server.manager.trigger({ target: name, trigger: "api" });
    await server.manager.waitFor(build.key, finished, 15_000);
    return build.key;
  };
  const served = async (key: string) => (await (await server.api(`/api/v1/builds/${key}`)).json()) as Build;
  return { server, notifier, logger, build, served };
}

describe("notify", () => {
  it("POSTs {event, build} signed with the hook's secret, tries again after a 500, and records the delivery on the build without the URL or secret", async () => {
    const hook = await receiver((n, res) => res.writeHead(n === 1 ? 500 : 200).end());
    const url = `${hook.url}/hooks/T0KEN-in-the-path?token=query-secret`;
    const { notifier, build, served } = await setUp([{ url, secret: SECRET }]);
    const key = await build("ok");
    await notifier.idle();

    expect(hook.got).toHaveLength(2);
    expect(hook.got[1]!.body).toBe(hook.got[0]!.body);
    for (const { headers, body } of hook.got) {
      expect(headers["content-type"]).toBe("application/json");
      expect(headers["x-cicd-signature-256"]).toBe(`sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`);
    }
    const sent = JSON.parse(hook.got[0]!.body) as { event: string; build: Build };
    expect(sent.event).toBe("succeeded");
    expect(sent.build).toMatchObject({ key, target: "ok", status: "succeeded", outcome: "succeeded" });

    const b = await served(key);
    const records = b.meta.notifications as NotificationRecord[];
    expect(records).toEqual([{ host: new URL(hook.url).host, event: "succeeded", status: "delivered", attempts: 2, httpStatus: 200, at: expect.any(String) }]);
    const text = JSON.stringify(b);
    for (const hidden of ["T0KEN", "query-secret", SECRET]) expect(text).not.toContain(hidden);
  });

  it("tries again after a try that timed out", async () => {
    // The first request is never answered; the second is.
    const hook = await receiver((n, res) => void (n === 1 ? undefined : res.writeHead(204).end()));
    const { notifier, build, served } = await setUp([{ url: hook.url }], { timeoutMs: 1_000 });
    const key = await build("ok");
    await notifier.idle();
    // Two tries, unless a busy machine made a later one slow too: every try is recorded.
    expect(hook.got.length).toBeGreaterThanOrEqual(2);
    expect(hook.got[0]!.headers["x-cicd-signature-256"]).toBeUndefined();
    expect((await served(key)).meta.notifications).toEqual([expect.objectContaining({ event: "succeeded", status: "delivered", attempts: hook.got.length, httpStatus: 204 })]);
  });

  it("gives up after its bounded tries, records the failure and logs it without the URL", async () => {
    const hook = await receiver((_n, res) => res.writeHead(503).end());
    const { notifier, build, served, logger } = await setUp([{ url: `${hook.url}/secret-path` }], { retryDelaysMs: [10, 10] });
    const key = await build("broken");
    await notifier.idle();
    expect(hook.got).toHaveLength(3);
    expect((await served(key)).meta.notifications).toEqual([expect.objectContaining({ event: "failed", status: "failed", attempts: 3, httpStatus: 503 })]);
    const warning = logger.lines.find((l) => l.includes("could not be delivered"));
    expect(warning).toBeDefined();
    expect(logger.lines.join("\n")).not.toContain("secret-path");
  });

  it("does not retry an answer that says the request itself is wrong (4xx), and sends only the events asked for", async () => {
    const hook = await receiver((_n, res) => res.writeHead(404).end());
    const { notifier, build, served } = await setUp([{ url: hook.url, events: ["failed"] }]);
    const ok = await build("ok");
    const broken = await build("broken");
    await notifier.idle();
    expect(hook.got).toHaveLength(1);
    expect((JSON.parse(hook.got[0]!.body) as { event: string }).event).toBe("failed");
    expect((await served(broken)).meta.notifications).toEqual([expect.objectContaining({ status: "failed", attempts: 1, httpStatus: 404 })]);
    expect((await served(ok)).meta.notifications).toBeUndefined();
  });

  it("speaks Slack's incoming-webhook format: target, number, status, outcome and a link under publicUrl", async () => {
    const hook = await receiver((_n, res) => res.writeHead(200).end("ok"));
    const { notifier, build } = await setUp([{ url: hook.url, format: "slack", secret: SECRET }], { publicUrl: "https://ci.example.com/" });
    const key = await build("broken");
    await notifier.idle();
    const sent = JSON.parse(hook.got[0]!.body) as Record<string, unknown>;
    expect(Object.keys(sent)).toEqual(["text"]);
    expect(sent.text).toContain(`<https://ci.example.com/builds/${key}|broken #1> failed (command_failed)`);
    expect(hook.got[0]!.headers["x-cicd-signature-256"]).toBe(`sha256=${createHmac("sha256", SECRET).update(hook.got[0]!.body).digest("hex")}`);
  });
});

describe("notify through the server's config", () => {
  it("tells a hook of a runner's fallback, with the secret read from the environment", async () => {
    const hook = await receiver((_n, res) => res.writeHead(200).end());
    const document = {
      port: 0,
      host: "127.0.0.1",
      servicefs: "./servicefs",
      database: "./cicd.sqlite",
      targets: [target("ok", ["echo fine"], { notify: [{ url: hook.url, secret: "${HOOK_SECRET}", events: ["succeeded", "fallback"] }] })],
    };
    const { file } = writeConfigFile(document);
    const config = parseConfig(document, { file, env: { HOOK_SECRET: SECRET } });
    expect(config.targets[0]!.notify[0]!.secret).toBe(SECRET);
    const server = await startTestServer(config, { executor: new FakeExecutor() });
    servers.push(server);
    const { build } = await server.manager.trigger({ target: "ok", trigger: "api" });
    await server.manager.waitFor(build.key, finished, 15_000);
    await expect.poll(() => hook.got.length, { timeout: 10_000, interval: 50 }).toBe(1);

    await new ServiceFs(server.config.servicefs).builds("ok").markBad(build.key, { exitCode: 1, signal: null, reason: "exited with code 1" });
    await expect.poll(() => hook.got.length, { timeout: 10_000, interval: 50 }).toBe(2);
    const sent = JSON.parse(hook.got[1]!.body) as { event: string; build: Build };
    expect(sent).toMatchObject({ event: "fallback", build: { key: build.key, meta: { markedBad: expect.objectContaining({ exitCode: 1 }) } } });
    expect(hook.got[1]!.headers["x-cicd-signature-256"]).toBe(`sha256=${createHmac("sha256", SECRET).update(hook.got[1]!.body).digest("hex")}`);
    await expect
      .poll(async () => ((await (await server.api(`/api/v1/builds/${build.key}`)).json()) as Build).meta.notifications, { timeout: 5_000, interval: 50 })
      .toEqual([expect.objectContaining({ event: "succeeded", status: "delivered" }), expect.objectContaining({ event: "fallback", status: "delivered" })]);
  });
});
