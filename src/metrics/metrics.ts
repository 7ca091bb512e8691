import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { FINAL_STATUSES, type BuildEvent } from "../manager/types.js";

/** What the gauges read at each scrape: the manager's queue and running builds. */
export type QueueStats = () => { queued: number; running: number };

/**
 * The server's Prometheus metrics, in a registry of its own (never prom-client's global one:
 * two servers in one process, as in tests, must not share counters). Fed by hooks: build
 * status changes (`observe`), runner fallbacks, webhook answers, builder dispatches and GitHub
 * API errors. Every label value comes from the config (targets, statuses) or a small fixed set,
 * so an outside sender cannot grow the number of series.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly builds: Counter<"target" | "status">;
  private readonly duration: Histogram<"target" | "status">;
  private readonly queueWait: Histogram;
  private readonly fallbacks: Counter<"target">;
  private readonly webhooks: Counter<"event" | "result">;
  private readonly warmHits: Counter<"target">;
  private readonly warmMisses: Counter<"target">;
  private readonly githubErrors: Counter<"kind">;

  constructor(stats: QueueStats) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.builds = new Counter({ name: "cicd_builds_total", help: "Finished builds, by target and final status.", labelNames: ["target", "status"], registers });
    this.duration = new Histogram({
      name: "cicd_build_duration_seconds",
      help: "Time from a build's start to its end, by target and final status.",
      labelNames: ["target", "status"],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    });
    this.queueWait = new Histogram({
      name: "cicd_queue_wait_seconds",
      help: "Time a build waited in the queue before it started.",
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    new Gauge({ name: "cicd_builds_queued", help: "Builds waiting in the queue.", registers, collect() { this.set(stats().queued); } });
    new Gauge({ name: "cicd_builds_running", help: "Builds running now.", registers, collect() { this.set(stats().running); } });
    this.fallbacks = new Counter({ name: "cicd_runner_fallbacks_total", help: "Builds a runner marked bad, falling back to an older good build.", labelNames: ["target"], registers });
    this.webhooks = new Counter({
      name: "cicd_webhooks_total",
      help: "GitHub webhook deliveries by event (\"unverified\" until the signature matched) and the HTTP status answered.",
      labelNames: ["event", "result"],
      registers,
    });
    this.warmHits = new Counter({ name: "cicd_warm_builder_hits_total", help: "Builds dispatched to a builder started ahead of them (warm).", labelNames: ["target"], registers });
    this.warmMisses = new Counter({ name: "cicd_warm_builder_misses_total", help: "Builds that had to start their builder at dispatch (cold).", labelNames: ["target"], registers });
    this.githubErrors = new Counter({ name: "cicd_github_api_errors_total", help: "GitHub API requests that failed, by what they were for.", labelNames: ["kind"], registers });
  }

  /** A build changed status: counts finished builds, their duration and the queue wait. */
  observe({ build, previous }: BuildEvent): void {
    const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
    // A retried build runs again from the queue: its wait is counted from its first queueing only once.
    if (build.status === "running" && previous === "queued" && build.startedAt && build.attempts <= 1) {
      this.queueWait.observe(seconds(build.createdAt, build.startedAt));
    }
    if (!FINAL_STATUSES.includes(build.status) || previous === build.status) return;
    const labels = { target: build.target, status: build.status };
    this.builds.inc(labels);
    // A build cancelled while queued never ran: it has no duration.
    if (build.startedAt && build.finishedAt) this.duration.observe(labels, seconds(build.startedAt, build.finishedAt));
  }

  /** A runner marked a build of `target` bad (and fell back to an older good one). */
  runnerFallback(target: string): void {
    this.fallbacks.inc({ target });
  }

  /** The webhook endpoint answered `status`; `event` is the verified event name, or undefined. */
  webhookAnswer(event: string | undefined, status: number): void {
    this.webhooks.inc({ event: event ?? "unverified", result: String(status) });
  }

  /** A build of `target` got its builder: warm (started ahead) or cold (started at dispatch). */
  builderAcquired(target: string, warm: boolean): void {
    (warm ? this.warmHits : this.warmMisses).inc({ target });
  }

  /** A GitHub API request failed (`kind`: check_run, comment, token, …). */
  githubApiError(kind: string): void {
    this.githubErrors.inc({ kind });
  }

  /** The exposition, in Prometheus' text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
