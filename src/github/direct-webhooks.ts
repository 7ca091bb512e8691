import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DirectEvent } from "../handlers/direct-events.js";
import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/** GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub. */
const MAX_BODY_BYTES = 25 * 1024 * 1024;
const jsonType = /^\s*application\/json\s*(?:;|$)/i;

export interface DirectWebhooksOptions {
  /** The webhook path (`/api/github/webhooks`). */
  path: string;
  secret: string;
  /** Event name (`X-GitHub-Event`) → what queues it. */
  events: Record<string, DirectEvent>;
  logger: Logger;
}

type Next = (error?: unknown) => void;

/**
 * The fast way in for webhooks that only queue builds (push, pull_request): a POST to `path`
 * with the three GitHub headers and a JSON body is checked against `X-Hub-Signature-256` (HMAC
 * over the raw bytes, constant-time compare), parsed once and handed to its event; the answer is
 * `200 ok` once the builds are durably queued, 400 for a bad signature or body (nothing queued),
 * 500 when queueing failed (GitHub shows it in the delivery log and can redeliver: the delivery
 * id makes that safe). Any other request, including one missing a header, goes on to `next`
 * (Probot), which answers it as before.
 */
export function directWebhooks(options: DirectWebhooksOptions) {
  const { events, logger } = options;
  const wantedPath = trimSlashes(options.path);
  const secret = options.secret;
  return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const name = req.headers["x-github-event"];
    const event = typeof name === "string" && Object.hasOwn(events, name) ? events[name] : undefined;
    const id = req.headers["x-github-delivery"];
    const signature = req.headers["x-hub-signature-256"];
    if (
      !event || req.method !== "POST" || typeof id !== "string" || typeof signature !== "string" ||
      !jsonType.test(req.headers["content-type"] ?? "") || trimSlashes(pathOf(req.url)) !== wantedPath
    ) {
      return next();
    }
    readBody(req).then(
      async (body) => {
        if (!body) return answer(res, 413, { error: `payload larger than ${MAX_BODY_BYTES} bytes` });
        if (!signedWith(secret, body, signature)) {
          logger.warn("Webhook signature does not match; ignored", { event: name, delivery: id });
          return answer(res, 400, { error: "signature does not match event payload and secret" });
        }
        let payload: unknown;
        try {
          payload = JSON.parse(body.toString("utf8"));
        } catch {
          return answer(res, 400, { error: "Invalid JSON" });
        }
        try {
          await event(payload, id);
        } catch (error) {
          logger.error("Webhook failed; answered 500 so GitHub shows it", { event: name, delivery: id, error: errorMessage(error) });
          return answer(res, 500, { error: errorMessage(error) });
        }
        res.writeHead(200, { "content-type": "text/plain", "content-length": "3" }).end("ok\n");
      },
      (error: unknown) => {
        logger.warn("Could not read a webhook", { event: name, delivery: id, error: errorMessage(error) });
        if (!res.headersSent) answer(res, 400, { error: "could not read the request body" });
      },
    ).catch((error: unknown) => logger.error("Could not answer a webhook", { event: name, delivery: id, error: errorMessage(error) }));
  };
}

/** Constant-time check of `sha256=<hex>` against the HMAC of the raw body. */
function signedWith(secret: string, body: Buffer, header: string): boolean {
  if (!header.startsWith("sha256=")) return false;
  const given = Buffer.from(header.slice(7), "hex");
  const expected = createHmac("sha256", secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The whole body, or undefined when it is larger than GitHub sends. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.once("end", () => resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks, size) : undefined));
    req.once("error", reject);
    // After "end" this changes nothing; before it, the sender went away mid-body.
    req.once("close", () => reject(new Error("the connection closed before the whole body arrived")));
  });
}

function answer(res: ServerResponse, status: number, body: { error: string }): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

function pathOf(url = "/"): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function trimSlashes(path: string): string {
  return path.replace(/\/+$/, "") || "/";
}
