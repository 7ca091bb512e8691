import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { postJson } from "../shared/post-json.js";
import type { BuilderEvent } from "../shared/protocol.js";

export interface BroadcasterOptions {
  /** Where events are POSTed; without it events are only logged. */
  url?: string;
  /** Bearer token for the manager. */
  token?: string;
  log: Logger;
  /** First retry delay (default 100 ms), doubled after each failed try up to `maxDelayMs`. */
  initialDelayMs?: number;
  /** Longest wait between tries (default 5 s). */
  maxDelayMs?: number;
  /** Give up on an event this long after its first try (default 2 min). */
  giveUpAfterMs?: number;
  /** Timeout of one try (default 10 s). */
  requestTimeoutMs?: number;
}

/**
 * Sends builder events to the manager, one after the other in the order they were queued.
 * While the manager is unreachable (connection refused, timeout, 5xx, 429) an event is retried
 * with exponential back-off until delivered or `giveUpAfterMs` has passed; a 4xx answer is
 * final. Events are informative — builds.json stays the record — so a given-up event is logged
 * and the next one is tried.
 */
export class Broadcaster {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly giveUpAfterMs: number;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: BroadcasterOptions) {
    this.initialDelayMs = options.initialDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.giveUpAfterMs = options.giveUpAfterMs ?? 120_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** Queues `event`; resolves true once delivered, false when given up (never rejects). */
  send(event: BuilderEvent): Promise<boolean> {
    const delivery = this.tail.then(() => this.deliver(event));
    this.tail = delivery;
    return delivery;
  }

  /** Resolves when every event queued so far was delivered or given up. */
  async drain(): Promise<void> {
    await this.tail;
  }

  private async deliver(event: BuilderEvent): Promise<boolean> {
    const { url, token, log } = this.options;
    const about = { type: event.type, key: "key" in event ? event.key : undefined };
    if (!url) {
      log.debug("no manager URL; event not sent", about);
      return false;
    }
    const deadline = Date.now() + this.giveUpAfterMs;
    let delay = this.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      let why: string;
      try {
        const response = await postJson(url, event, { token, timeoutMs: this.requestTimeoutMs });
        if (response.status >= 200 && response.status < 300) {
          log.debug("event delivered", { ...about, attempt });
          return true;
        }
        if (response.status < 500 && response.status !== 429 && response.status !== 408) {
          log.warn("the manager refused the event", { ...about, status: response.status });
          return false;
        }
        why = `HTTP ${response.status}`;
      } catch (error) {
        why = causeOf(error);
      }
      if (Date.now() + delay > deadline) {
        log.warn("gave up sending the event; the manager stayed unreachable", { ...about, attempts: attempt, why });
        return false;
      }
      if (attempt === 1) log.info("the manager is unreachable; retrying the event", { ...about, why });
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.maxDelayMs);
    }
  }
}

function causeOf(error: unknown): string {
  return (error as { code?: string }).code ?? errorMessage(error);
}
