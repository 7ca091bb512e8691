import type { MemoryResult } from "./manager-memory.js";

/** One side's single-build latencies and burst time, in milliseconds. */
export interface SideResult {
  singleMs: number[];
  burstMs: number;
  /** Machine CPU-seconds per build over the burst (every process: server, engine, containers). */
  burstCpuPerBuild?: number;
}

interface IdleResult {
  kb: number;
  startMs: number;
}
import { megabytes, millis, ratio, seconds, summarize, verdict } from "./stats.js";
import type { IngestResult, PhaseResult } from "./webhook-ingest.js";

interface Settings {
  n: number;
  burst: number;
  concurrency: number;
  webhooks: number;
  webhookConcurrency: number;
  queued: number;
}


/** The figures of one run: a readable detail block, then one `bench:` line per figure. */
export class Report {
  floor?: SideResult;
  cicd?: SideResult;
  /** cicd's burst with a target's `reuse`. */
  reuse?: { reuse: number; burstMs: number; burstCpuPerBuild: number };
  ingest?: IngestResult;
  memory?: MemoryResult;
  idleRestOnly?: IdleResult;
  idleTsx?: IdleResult;
  /** Finished `bench:` lines of parts that format their own (git cache). */
  extra: string[] = [];

  details(s: Settings): string[] {
    const out: string[] = [];
    const row = (name: string, xs: number[]) => {
      const x = summarize(xs);
      out.push(`  ${name.padEnd(6)} n=${x.n} median=${seconds(x.median)} p95=${seconds(x.p95)} min=${seconds(x.min)} max=${seconds(x.max)}`);
      out.push(`         samples: ${xs.map((v) => (v / 1000).toFixed(2)).join(" ")}`);
    };
    if (this.floor || this.cicd) out.push("single-build latency (trigger → artifact in place):");
    if (this.floor) row("floor", this.floor.singleMs);
    if (this.cicd) row("cicd", this.cicd.singleMs);
    if (this.floor) out.push(`burst of ${s.burst} at concurrency ${s.concurrency}: floor ${seconds(this.floor.burstMs)}${this.cicd ? `, cicd ${seconds(this.cicd.burstMs)}` : ""}`);
    if (this.ingest) {
      const i = this.ingest;
      const phase = (name: string, p: PhaseResult) =>
        `  ${name}: ${p.perSecond.toFixed(0)}/s, answer p50 ${millis(p.p50Ms)} p99 ${millis(p.p99Ms)}, server CPU ${millis(p.cpuMs)} per webhook (≈ ${(1000 / p.cpuMs).toFixed(0)}/s per core)`;
      out.push(`webhooks: ${i.sent} sent (warm-ups included), ${i.accepted} answered 200, ${i.stored} builds in SQLite, ${i.lost} lost`);
      out.push(phase("one at a time", i.single));
      out.push(phase(`${s.webhookConcurrency} at a time`, i.load));
      for (const f of i.failures) out.push(`  failure: ${f}`);
    }
    const idle = (what: string, r: IdleResult) => `${what}: rss idle ${megabytes(r.kb)}, start with an empty store ${seconds(r.startMs)}`;
    if (this.idleTsx) out.push(idle("from source through tsx (how the tests run it)", this.idleTsx));
    if (this.idleRestOnly) out.push(idle("compiled, without GitHub settings (REST only)", this.idleRestOnly));
    if (this.memory) {
      const m = this.memory;
      out.push(`compiled, GitHub App configured: rss idle ${megabytes(m.idleKb)}, start with an empty store ${seconds(m.startMs)}; rss with ${s.queued} queued ${megabytes(m.queuedKb)} (heap in use ${megabytes(m.queuedHeapKb)})`);
      out.push(`queueing ${s.queued} builds over REST (16 at a time): ${seconds(m.queueMs)} (${((s.queued / m.queueMs) * 1000).toFixed(0)}/s)`);
      out.push(`restart after SIGKILL with ${s.queued} queued: ${seconds(m.restartMs)} from spawn to /healthz; then rss ${megabytes(m.restartedKb)} (heap in use ${megabytes(m.restartedHeapKb)})`);
    }
    return out;
  }

  lines(s: Settings): string[] {
    const out: string[] = [];
    const { floor, cicd, ingest, memory } = this;
    if (floor && cicd) {
      const f = summarize(floor.singleMs);
      const c = summarize(cicd.singleMs);
      out.push(`bench: single median cicd=${seconds(c.median)} floor=${seconds(f.median)} ratio=${ratio(c.median, f.median)} ${verdict(c.median / f.median <= 0.3, "≤ 0.30")}`);
      out.push(`bench: single p95 cicd=${seconds(c.p95)} floor=${seconds(f.p95)} ratio=${ratio(c.p95, f.p95)}`);
      out.push(`bench: burst${s.burst} total cicd=${seconds(cicd.burstMs)} floor=${seconds(floor.burstMs)} ratio=${ratio(cicd.burstMs, floor.burstMs)} concurrency=${s.concurrency} ${verdict(cicd.burstMs / floor.burstMs <= 1, "≤ 1.00")}`);
      const r = this.reuse;
      if (r) {
        out.push(`bench: burst${s.burst} with reuse=${r.reuse} cicd=${seconds(r.burstMs)} floor=${seconds(floor.burstMs)} ratio=${ratio(r.burstMs, floor.burstMs)} ${verdict(r.burstMs / floor.burstMs <= 0.6, "≤ 0.60")}`);
        if (floor.burstCpuPerBuild !== undefined) out.push(`bench: cpu per build with reuse=${r.reuse} cicd=${r.burstCpuPerBuild.toFixed(2)}s floor=${floor.burstCpuPerBuild.toFixed(2)}s ratio=${(r.burstCpuPerBuild / floor.burstCpuPerBuild).toFixed(2)}`);
      }
      if (cicd.burstCpuPerBuild !== undefined && floor.burstCpuPerBuild !== undefined) {
        const r = cicd.burstCpuPerBuild / floor.burstCpuPerBuild;
        out.push(`bench: cpu per build (machine, over the burst) cicd=${cicd.burstCpuPerBuild.toFixed(2)}s floor=${floor.burstCpuPerBuild.toFixed(2)}s ratio=${r.toFixed(2)} ${verdict(r <= 1.5, "≤ 1.50")}`);
      }
    }
    if (ingest) {
      const { single, load } = ingest;
      out.push(`bench: webhooks rate=${load.perSecond.toFixed(0)}/s concurrency=${s.webhookConcurrency} ${verdict(load.perSecond >= 1000, "≥ 1000/s")}`);
      out.push(`bench: webhook answer one-at-a-time p50=${millis(single.p50Ms)} p99=${millis(single.p99Ms)} ${verdict(single.p50Ms <= 5, "p50 ≤ 5ms")}`);
      out.push(`bench: webhook answer concurrency=${s.webhookConcurrency} p50=${millis(load.p50Ms)} p99=${millis(load.p99Ms)}`);
      out.push(`bench: webhook server cpu=${millis(load.cpuMs)} per webhook`);
      out.push(`bench: webhooks lost=${ingest.lost} sent=${ingest.sent} stored=${ingest.stored} ${verdict(ingest.lost === 0 && ingest.accepted === ingest.sent, "none lost")}`);
    }
    if (memory) {
      out.push(`bench: rss idle=${megabytes(memory.idleKb)} (dockerode loaded) ${verdict(memory.idleKb <= 100 * 1024, "≤ 100MB")}`);
      out.push(`bench: rss queued${s.queued}=${megabytes(memory.queuedKb)} after-restart=${megabytes(memory.restartedKb)} ${verdict(memory.restartedKb <= 120 * 1024, "≤ 120MB")}; heap in use queued=${megabytes(memory.queuedHeapKb)} after-restart=${megabytes(memory.restartedHeapKb)}`);
      out.push(`bench: restart queued${s.queued}=${seconds(memory.restartMs)} ${verdict(memory.restartMs <= 2000, "≤ 2s")}`);
    }
    return [...out, ...this.extra];
  }
}
