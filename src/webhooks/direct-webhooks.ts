import type { IncomingMessage, ServerResponse } from "node:http";
import type { DirectEvent } from "../handlers/direct-events.js";
import { errorMessage, isCicdError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { WebhookLimits } from "../github/unverified-bodies.js";
import { webhookGate, type VerifiedDelivery, type WebhookAnswer } from "../github/webhook-gate.js";
import { payloadProblem, probotEventShapes } from "../github/webhook-shapes.js";

export interface DirectWebhooksOptions {
  /** The webhook path (`/api/github/webhooks`). */
  path: string;
  secret: string;
  /** Event name (`X-GitHub-Event`) → what queues it, without Probot (push, pull_request). */
  events: Record<string, DirectEvent>;
  /**
   * Hands a verified delivery of an event Probot's handlers take (probotEventShapes) to Probot
   * (`probot.webhooks.receive`); resolves once its handlers are done.
   */
  receive: (delivery: VerifiedDelivery) => Promise<void>;
  logger: Logger;
  /** Limits on unverified bodies (unverified-bodies.ts); tests shorten them. */
  limits?: Partial<WebhookLimits>;
  /**
   * A Probot event still being handled after this long is answered 202 (as Probot's own
   * middleware did, default 9 s): GitHub marks a delivery failed after 10 s.
   */
  slowAnswerMs?: number;
  /** Told every answer on the webhook path (webhook-gate.ts `onAnswer`): metrics. */
  onAnswer?: (event: string | undefined, status: number) => void;
}

type Next = (error?: unknown) => void;

const ok: WebhookAnswer = { status: 200, text: "ok\n" };

/**
 * The webhook endpoint, every event: the gate (webhook-gate.ts) verifies the signature while the
 * body streams in, under limits on unverified bodies; then a payload of the wrong shape for its
 * event (webhook-shapes.ts) gets 400 naming the field, push and pull_request are queued here
 * (answered `200 ok` once the builds are durably queued, as their Probot handlers would queue
 * them), the events Probot's handlers take go to Probot already verified, and any other event
 * is answered 200 and ignored. A failure to queue is answered 500 without its text (GitHub
 * shows it in the delivery log and can redeliver: the delivery id makes that safe). Requests
 * to other paths go on to `next`.
 */
export function directWebhooks(options: DirectWebhooksOptions): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const { events, logger, receive } = options;
  const slowAnswerMs = options.slowAnswerMs ?? 9_000;

  const deliver = async (delivery: VerifiedDelivery): Promise<WebhookAnswer> => {
    const { name, id, payload } = delivery;
    const problem = payloadProblem(name, payload);
    if (problem) {
      logger.warn("Webhook payload has the wrong shape; refused", { event: name, delivery: id, problem });
      return { status: 400, error: problem };
    }
    if (Object.hasOwn(events, name)) {
      try {
        await events[name]!(payload, id);
      } catch (error) {
        // Refusals of the build service (e.g. shutting down) are meant for users; anything else is told only in the log.
        if (isCicdError(error) && error.status < 500) return { status: error.status, error: error.message };
        throw error;
      }
      return ok;
    }
    if (Object.hasOwn(probotEventShapes, name)) return answerWithin(slowAnswerMs, receive(delivery), delivery);
    logger.debug("Webhook event cicd does not act on; ignored", { event: name, delivery: id });
    return ok;
  };

  const answerWithin = (ms: number, handling: Promise<void>, { name, id }: VerifiedDelivery): Promise<WebhookAnswer> => {
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    const slow = new Promise<WebhookAnswer>((resolve) => {
      timer = setTimeout(() => {
        answered = true;
        resolve({ status: 202, text: "still processing\n" });
      }, ms);
    });
    const done = handling.then(
      () => ok,
      (error: unknown) => {
        // Before the 202 the gate answers 500 and logs it; after it, only the log can tell.
        if (!answered) throw error;
        logger.error("Webhook failed after it was answered", { event: name, delivery: id, error: errorMessage(error) });
        return ok;
      },
    );
    return Promise.race([done, slow]).finally(() => clearTimeout(timer));
  };

  return webhookGate({ path: options.path, secret: options.secret, logger, limits: options.limits, deliver, onAnswer: options.onAnswer });
}
