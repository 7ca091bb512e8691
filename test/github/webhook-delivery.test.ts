import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { directWebhooks } from "../../src/webhooks/direct-webhooks.js";
import { directEventShapes, payloadProblem, probotEventShapes } from "../../src/github/webhook-shapes.js";
import type { HandlerDeps } from "../../src/handlers/handler-deps.js";
import { registerHandlers } from "../../src/handlers/register-handlers.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { API, WEBHOOK_SECRET, nockInstallationToken, testConfig, testEnv } from "../fixtures/github-app-fixture.js";
import { sendWebhook, startWebhookServer } from "../fixtures/webhook-server.js";
import { examplePayload, prCommentPayload, pushPayload, type Payload } from "../fixtures/webhook-payloads.js";

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

/** Sends `body` exactly as given (any JSON text), validly signed. */
const sendRaw = (url: string, name: string, body: string, id = "raw") =>
  fetch(`${url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": name,
      "x-github-delivery": id,
      "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
    },
    body,
  });

/** An answer that says what was wrong and nothing of the server's insides. */
function expectPlainError(error: string): void {
  expect(error).not.toMatch(/TypeError|ReferenceError|SyntaxError|Cannot read|undefined is not|\n\s+at |node_modules|\/work\/|\.ts:\d/);
}

const without = (p: Payload, key: string): Payload => {
  const copy = structuredClone(p);
  delete copy[key];
  return copy;
};

describe("validly signed deliveries of the wrong shape", () => {
  it("get 400 with a JSON error that names the field and nothing internal, and queue nothing", async () => {
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      const comment = prCommentPayload("/build");
      comment.comment.user.login = 5;
      const checkRun = examplePayload("check_run", "rerequested");
      checkRun.check_run.head_sha = "not a sha";
      const installationText = pushPayload();
      installationText.installation.id = "1; drop table builds";
      const cases: [string, string, RegExp][] = [
        ["push", JSON.stringify(without(pushPayload(), "repository")), /push payload .*repository/],
        ["pull_request", JSON.stringify(without(examplePayload("pull_request", "opened"), "pull_request")), /pull_request payload .*pull_request/],
        ["push", "null", /push payload must be a JSON object/],
        ["push", "[]", /must be a JSON object/],
        ["pull_request", '"text"', /must be a JSON object/],
        ["check_suite", "5", /must be a JSON object/],
        ["installation", "[1,2]", /installation payload must be a JSON object/],
        ["issue_comment", JSON.stringify(comment), /comment\.user\.login/],
        ["check_run", JSON.stringify(checkRun), /check_run\.head_sha: expected a commit sha/],
        ["push", JSON.stringify(installationText), /installation\.id/],
        ["push", JSON.stringify({ ...pushPayload(), ref: "refs/heads/a b" }), /ref: expected a git ref name/],
      ];
      for (const [name, body, message] of cases) {
        const res = await sendRaw(s.url, name, body);
        expect(res.status, `${name} ${body.slice(0, 60)}`).toBe(400);
        const { error } = (await res.json()) as { error: string };
        expect(error).toMatch(message);
        expectPlainError(error);
      }
      expect(s.service.all()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("answer 400 to the event names __proto__ and constructor, and 200 to unknown events", async () => {
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      for (const name of ["__proto__", "constructor", "toString", "Push", "push\tx"]) {
        const res = await sendRaw(s.url, name, JSON.stringify(pushPayload()));
        expect(res.status, name).toBe(400);
        const { error } = (await res.json()) as { error: string };
        expect(error).toBe("X-GitHub-Event is not a GitHub event name");
      }
      for (const name of ["installation", "star", "not_an_event_github_sends"]) {
        const res = await sendRaw(s.url, name, JSON.stringify({ action: "created", hook: {} }));
        expect(res.status, name).toBe(200);
        expect(await res.text()).toBe("ok\n");
      }
      expect(s.service.all()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("answer 500 without the error's text when a handler fails", async () => {
    const s = await startWebhookServer(testConfig(), testEnv);
    try {
      // GitHub refuses the /build handler's permission check (403 is not retried): the handler throws.
      nockInstallationToken();
      nock(API).get(/\/collaborators\/.+\/permission$/).reply(403, { message: "Resource not accessible by integration" });
      nock(API).post(/\/reactions$/).reply(201, {});
      const res = await sendWebhook(s.url, "issue_comment", prCommentPayload("/build"), WEBHOOK_SECRET, "comment-1");
      expect(res.status).toBe(500);
      const { error } = (await res.json()) as { error: string };
      expect(error).toBe("the webhook could not be handled; the server's log has the details (delivery comment-1)");
      expect(s.logger.lines.some((l) => l.includes("Webhook failed; answered 500") && l.includes("delivery=comment-1"))).toBe(true);

      s.service.trigger = async () => {
        throw new Error("SQLITE_CORRUPT: /var/lib/cicd/cicd.sqlite");
      };
      const push = await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET);
      expect(push.status).toBe(500);
      expect(await push.text()).not.toContain("SQLITE");
    } finally {
      await s.close();
    }
  });
});

describe("payload shapes", () => {
  const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Payload[] }[];

  it("take every GitHub example of the events cicd acts on, sent to an installed app", () => {
    const names = [...Object.keys(directEventShapes), ...Object.keys(probotEventShapes)];
    let checked = 0;
    for (const { name, examples } of definitions.filter((d) => names.includes(d.name))) {
      for (const example of examples) {
        const payload = { installation: { id: 1 }, ...example };
        expect(payloadProblem(name, payload), `${name}.${example.action}`).toBeUndefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it("cover every event Probot's handlers subscribe to (the gate hands Probot only those)", () => {
    const subscribed: string[] = [];
    const app = { on: (names: string | string[]) => subscribed.push(...[names].flat()) };
    registerHandlers(app as never, {} as HandlerDeps);
    const events = new Set(subscribed.map((n) => n.split(".")[0]!));
    for (const event of events) expect(Object.keys({ ...directEventShapes, ...probotEventShapes })).toContain(event);
  });
});

describe("a Probot event still being handled", () => {
  it("is answered 202 after slowAnswerMs, as Probot's middleware did, and its later failure is logged", async () => {
    const logger = memoryLogger();
    let fail: (error: Error) => void = () => undefined;
    const handling = new Promise<void>((_resolve, reject) => (fail = reject));
    const gate = directWebhooks({ path: "/api/github/webhooks", secret: WEBHOOK_SECRET, events: {}, receive: () => handling, logger, slowAnswerMs: 50 });
    const server: Server = createServer((req, res) => gate(req, res, () => res.writeHead(404).end()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await sendWebhook(url, "check_suite", examplePayload("check_suite", "rerequested"), WEBHOOK_SECRET, "suite-slow");
      expect(res.status).toBe(202);
      expect(await res.text()).toBe("still processing\n");
      fail(new Error("GitHub API down"));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(logger.lines.some((l) => l.includes("Webhook failed after it was answered") && l.includes("delivery=suite-slow"))).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
