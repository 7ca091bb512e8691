import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { UnverifiedBodies, defaultWebhookLimits, type WebhookLimits } from "./unverified-bodies.js";

/** A delivery whose signature matched, its body parsed. */
export interface VerifiedDelivery {
  /** `X-GitHub-Event`: lower-case letters and underscores, never a name of Object.prototype. */
  name: string;
  /** `X-GitHub-Delivery`. */
  id: string;
  payload: unknown;
}

/** What the gate sends back for a verified delivery. */
export type WebhookAnswer = { status: number; text: string } | { status: number; error: string; headers?: Record<string, string> };

export interface WebhookGateOptions {
  /** The webhook path (`/api/github/webhooks`). */
  path: string;
  secret: string;
  logger: Logger;
  limits?: Partial<WebhookLimits>;
  /** Handles a verified delivery; its answer goes to GitHub. A throw is answered 500 without its text. */
  deliver: (delivery: VerifiedDelivery) => Promise<WebhookAnswer>;
  /**
   * Told every answer on the webhook path, once it is sent: the event name when the signature
   * matched (undefined before that: an unverified sender's header must not name a metric's
   * label), and the HTTP status. Metrics.
   */
  onAnswer?: (event: string | undefined, status: number) => void;
}

type Next = (error?: unknown) => void;

const jsonType = /^\s*application\/json\s*(?:;|$)/i;
const githubHeaders = ["x-github-event", "x-hub-signature-256", "x-github-delivery"] as const;
const eventName = /^[a-z][a-z_]{0,63}$/;
// GitHub sends a GUID; anything printable and short is taken (it ends up in logs and SQLite).
const deliveryId = /^[\w.:-]{1,128}$/;
const signatureHeader = /^sha256=([0-9a-f]{64})$/i;

/**
 * The one way into the webhook endpoint, for every event. Everything that costs nothing is
 * checked first (method, `content-type`, the three GitHub headers, the signature's form,
 * `content-length`), then the body is admitted against the limits of unverified bodies
 * (unverified-bodies.ts: count, declared bytes; refused at once with 503 and `Retry-After`,
 * nothing read) and read under a deadline (408), its HMAC computed chunk by chunk as it
 * arrives. Only a body whose signature matches is parsed and handed to `deliver`. Requests to
 * other paths go on to `next`; other methods on the path get 404 as Probot gave them.
 * Error answers are JSON `{"error"}` and never carry internal error text.
 */
export function webhookGate(options: WebhookGateOptions) {
  const { logger, deliver, secret } = options;
  const limits: WebhookLimits = { ...defaultWebhookLimits, ...options.limits };
  const wantedPath = trimSlashes(options.path);
  const bodies = new UnverifiedBodies(limits);
  let refusedSinceFull = 0;

  return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    if (trimSlashes(pathOf(req.url)) !== wantedPath) return next();
    let verified: string | undefined;
    if (options.onAnswer) {
      const onAnswer = options.onAnswer;
      res.once("finish", () => onAnswer(verified, res.statusCode));
    }
    if (req.method !== "POST") return refuse(res, 404, `Unknown route: ${req.method} ${wantedPath}`);
    if (!jsonType.test(req.headers["content-type"] ?? "")) return refuse(res, 415, 'Unsupported "Content-Type" header value. Must be "application/json"');
    const missing = githubHeaders.filter((h) => req.headers[h] === undefined);
    if (missing.length) return refuse(res, 400, `Required headers missing: ${missing.join(", ")}`);
    const name = req.headers["x-github-event"] as string;
    const id = req.headers["x-github-delivery"] as string;
    // "constructor" is the one lower-case name Object.prototype has; no handler table may see it.
    if (!eventName.test(name) || Object.hasOwn(Object.prototype, name)) return refuse(res, 400, "X-GitHub-Event is not a GitHub event name");
    if (!deliveryId.test(id)) return refuse(res, 400, "X-GitHub-Delivery is not a delivery id");
    const given = signatureHeader.exec(req.headers["x-hub-signature-256"] as string)?.[1];
    if (!given) {
      logger.warn("Webhook signature does not match; ignored", { event: name, delivery: id });
      return refuse(res, 400, "signature does not match event payload and secret");
    }
    const length = declaredLength(req);
    // GitHub always sends the length; a body of unknown length could not be admitted up front.
    if (length === undefined) return refuse(res, 411, "Content-Length is required");
    if (length > limits.maxBodyBytes) return refuse(res, 413, `payload larger than ${limits.maxBodyBytes} bytes`);

    let done = false;
    const chunks: Buffer[] = [];
    // Declared below, once the body is admitted; nothing calls stop or cutOff before that.
    // eslint-disable-next-line prefer-const
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      done = true;
      clearTimeout(timer);
      chunks.length = 0;
      release?.();
    };
    const cutOff = (why: string) => {
      if (done) return;
      stop();
      logger.warn("Webhook body too slow; cut off", { event: name, delivery: id, why });
      refuse(res, 408, `the request body did not arrive in time (${why})`);
    };
    const release = bodies.admit(length, () => cutOff("stalled while the server was full"));
    if (!release) {
      if (refusedSinceFull++ === 0) logger.warn("Too many webhook bodies in flight; refusing new ones with 503 until there is room", { ...bodies.inFlight, event: name, delivery: id });
      return refuse(res, 503, "too many webhook deliveries in flight; retry shortly", { "retry-after": "1" });
    }
    if (refusedSinceFull) {
      logger.info("Room for webhook bodies again", { refused: refusedSinceFull });
      refusedSinceFull = 0;
    }
    timer = setTimeout(() => cutOff(`over ${limits.bodyTimeoutMs} ms`), limits.bodyTimeoutMs);
    const hmac = createHmac("sha256", secret);
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      received += chunk.length;
      hmac.update(chunk);
      chunks.push(chunk);
    });
    const failed = (error?: Error) => {
      if (done) return;
      stop();
      logger.warn("Could not read a webhook", { event: name, delivery: id, error: error ? errorMessage(error) : "the connection closed before the whole body arrived" });
    };
    req.once("error", failed);
    // After "end" this changes nothing; before it, the sender went away mid-body.
    req.once("close", () => failed());
    req.once("end", () => {
      if (done) return;
      const body = Buffer.concat(chunks, received);
      stop();
      if (!timingSafeEqual(Buffer.from(given, "hex"), hmac.digest())) {
        logger.warn("Webhook signature does not match; ignored", { event: name, delivery: id });
        return send(res, { status: 400, error: "signature does not match event payload and secret" });
      }
      verified = name;
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString("utf8"));
      } catch {
        return send(res, { status: 400, error: "Invalid JSON" });
      }
      deliver({ name, id, payload }).then(
        (answer) => send(res, answer),
        (error: unknown) => {
          logger.error("Webhook failed; answered 500 so GitHub shows it", { event: name, delivery: id, error: errorMessage(error) });
          send(res, { status: 500, error: `the webhook could not be handled; the server's log has the details (delivery ${id})` });
        },
      );
    });
  };
}

/** The declared `content-length`, or undefined when absent or not a number. */
function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers["content-length"];
  if (header === undefined || !/^\d{1,15}$/.test(header)) return undefined;
  return Number(header);
}

/**
 * An error answer before (or instead of) reading the body: `connection: close`, so node closes
 * the socket once the answer is out instead of reading the rest of the body to keep it alive.
 */
function refuse(res: ServerResponse, status: number, error: string, headers: Record<string, string> = {}): void {
  send(res, { status, error, headers: { ...headers, connection: "close" } });
}

function send(res: ServerResponse, answer: WebhookAnswer): void {
  if (res.headersSent || res.destroyed) return;
  if ("text" in answer) {
    res.writeHead(answer.status, { "content-type": "text/plain", "content-length": Buffer.byteLength(answer.text) }).end(answer.text);
    return;
  }
  const text = JSON.stringify({ error: answer.error });
  res.writeHead(answer.status, { ...answer.headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

function pathOf(url = "/"): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function trimSlashes(path: string): string {
  return path.replace(/\/+$/, "") || "/";
}
