import type { Config } from "../config/load-config.js";
import { NOTIFY_EVENTS } from "../config/schema.js";
import type { Logger } from "../shared/logger.js";
import type { Build, BuildService, MarkedBadEvent } from "../manager/types.js";
import { notificationBody, signature, type NotifyEvent } from "./notification-body.js";

/** One hook's delivery of one event, as kept in the build's `meta.notifications`. */
export interface NotificationRecord {
  /** The hook's host only: the full URL often carries a token (Slack's does). */
  host: string;
  event: NotifyEvent;
  /** `pending` while tries remain, then `delivered` or `failed`. */
  status: "pending" | "delivered" | "failed";
  attempts: number;
  /** The last answer's HTTP status, when there was one. */
  httpStatus?: number;
  /** Why the last try failed without an answer (`timeout`, `ECONNREFUSED`, …). */
  error?: string;
  /** When the last try ended. */
  at: string;
}

export interface NotifierDeps {
  config: Config;
  service: Pick<BuildService, "get" | "setMeta" | "onChange">;
  /** Runners' decisions: a build marked bad is a `fallback` event. */
  markedBad?: { onMarkedBad(listener: (event: MarkedBadEvent) => void): () => void };
  logger: Logger;
  /** Waits between tries; their count + 1 is the number of tries. Default: 5 tries over about 2 minutes. */
  retryDelaysMs?: readonly number[];
  /** Each try's limit, connect to the last byte of the answer. Default 10 s. */
  timeoutMs?: number;
}

const DEFAULT_DELAYS = [5_000, 15_000, 30_000, 70_000];
const FINAL: readonly string[] = NOTIFY_EVENTS.filter((e) => e !== "fallback");

/**
 * Sends a target's `notify` hooks a POST of `{"event", "build"}` (or Slack's `{"text"}`) when
 * one of its builds succeeds, fails or errs, and when a runner marks one bad and falls back;
 * signed with `X-Cicd-Signature-256` when the hook has a secret. A try that fails (no answer,
 * timeout, 408, 429 or 5xx) is repeated after a back-off; other answers are final. It never
 * blocks a build: status listeners only start the delivery. Each delivery is recorded on the
 * build (`meta.notifications`) without the URL or the secret.
 */
export class Notifier {
  private readonly unsubscribe: (() => void)[] = [];
  private readonly waits = new Set<() => void>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly delays: readonly number[];
  private readonly timeoutMs: number;
  private closed = false;

  constructor(private readonly deps: NotifierDeps) {
    this.delays = deps.retryDelaysMs ?? DEFAULT_DELAYS;
    this.timeoutMs = deps.timeoutMs ?? 10_000;
  }

  /** Subscribes to build changes and runners' decisions. */
  start(): void {
    this.unsubscribe.push(
      this.deps.service.onChange(({ build, previous }) => {
        if (FINAL.includes(build.status) && previous !== build.status) this.notify(build.status as NotifyEvent, build);
      }),
    );
    if (this.deps.markedBad) this.unsubscribe.push(this.deps.markedBad.onMarkedBad(({ build }) => this.notify("fallback", build)));
  }

  /** Stops listening and drops the tries still waiting (a restart does not resend them). */
  close(): void {
    this.closed = true;
    for (const u of this.unsubscribe.splice(0)) u();
    for (const done of [...this.waits]) done();
  }

  /** Resolves when no try is in flight or waiting (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private notify(event: NotifyEvent, build: Build): void {
    const hooks = this.deps.config.targets.find((t) => t.name === build.target)?.notify ?? [];
    for (const hook of hooks) {
      if (!hook.events.includes(event)) continue;
      const body = notificationBody(hook.format, event, build, this.deps.config.publicUrl);
      const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "cicd-notify" };
      if (hook.secret) headers["x-cicd-signature-256"] = signature(hook.secret, body);
      headers["x-cicd-event"] = event;
      const record: NotificationRecord = { host: new URL(hook.url).host, event, status: "pending", attempts: 0, at: new Date().toISOString() };
      const index = this.record(build.key, record, undefined);
      this.track(this.attempt(hook.url, headers, body, build, record, index));
    }
  }

  private track(work: Promise<void>): void {
    // Nothing a hook does may surface as an unhandled rejection (e.g. the database closed mid-retry).
    const settled = work
      .catch((error: unknown) => this.deps.logger.warn("A notification stopped", { error: error instanceof Error ? error.message : String(error) }))
      .finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
  }

  private async attempt(url: string, headers: Record<string, string>, body: string, build: Build, record: NotificationRecord, index: number | undefined): Promise<void> {
    record.attempts += 1;
    let retry = false;
    try {
      const answer = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(this.timeoutMs) });
      // The body is not needed; reading it frees the connection.
      await answer.arrayBuffer().catch(() => undefined);
      record.httpStatus = answer.status;
      delete record.error;
      retry = answer.status >= 500 || answer.status === 408 || answer.status === 429;
      record.status = answer.ok ? "delivered" : "failed";
    } catch (error) {
      delete record.httpStatus;
      record.error = failureOf(error);
      record.status = "failed";
      retry = true;
    }
    const delay = this.delays[record.attempts - 1];
    if (retry && delay !== undefined && !this.closed) record.status = "pending";
    record.at = new Date().toISOString();
    this.record(build.key, record, index);
    if (record.status === "pending") {
      await this.wait(delay!);
      if (this.closed) return;
      return this.attempt(url, headers, body, build, record, index);
    }
    if (record.status === "failed") {
      this.deps.logger.warn("A notification could not be delivered", {
        target: build.target,
        build: build.key,
        host: record.host,
        event: record.event,
        attempts: record.attempts,
        ...(record.httpStatus ? { status: record.httpStatus } : { error: record.error }),
      });
    }
  }

  /** Waits `ms`; close() ends every wait at once (the try after it is then dropped). */
  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      // A pending retry never keeps a stopping server alive.
      timer.unref();
      this.waits.add(done);
    });
  }

  /**
   * Writes `record` into the build's `meta.notifications` (appended when `index` is undefined,
   * else replaced there) and returns its index. A build deleted meanwhile (retention) is skipped.
   */
  private record(key: string, record: NotificationRecord, index: number | undefined): number | undefined {
    const build = this.deps.service.get(key);
    if (!build) return index;
    const list = Array.isArray(build.meta.notifications) ? [...(build.meta.notifications as NotificationRecord[])] : [];
    const at = index ?? list.length;
    list[at] = { ...record };
    this.deps.service.setMeta(key, { notifications: list });
    return at;
  }
}

/** A short, URL-free reason for a try that got no answer. */
function failureOf(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return "timeout";
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? cause.code : "no answer";
}
