import { benchConfig } from "./bench-config.js";
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { createExecutor } from "../src/executor/index.js";
import { FINAL_STATUSES } from "../src/manager/types.js";
import { startServer } from "../src/server/start-server.js";
import type { Logger } from "../src/shared/logger.js";
import { startFakeGitHub, type SeenRequest } from "./fake-github-api.js";
import type { SampleProject } from "./sample-project.js";
import { percentile, sleep } from "./stats.js";
import { pushPayload } from "./webhook-ingest.js";

export interface CheckRunLatencyOptions {
  project: SampleProject;
  dir: string;
  instance: string;
  logger: Logger;
  /** Pushes measured (after one warm-up). */
  n: number;
}

export interface CheckRunLatency {
  samplesMs: number[];
  p50Ms: number;
  p95Ms: number;
}

/**
 * What a developer sees after `git push`: the time from a signed push webhook leaving GitHub
 * (here: this process) to its check run `in_progress` at GitHub's API (the fake, on 127.0.0.1),
 * through the real server, the real Docker engine and a real builder; a build so quick that its
 * first update after `queued` is already `completed` counts at that update. One push at a time,
 * each to another commit of the sample project, each build run to its end before the next push.
 */
export async function runCheckRunLatency(o: CheckRunLatencyOptions): Promise<CheckRunLatency> {
  const shaOfRun = new Map<number, string>();
  const inProgressAt = new Map<string, number>();
  const seen = (r: SeenRequest) => {
    const match = /\/check-runs(?:\/(\d+))?$/.exec(r.path);
    if (!match || !r.body) return;
    const id = match[1] ? Number(match[1]) : Number(r.body.id);
    if (typeof r.body.head_sha === "string") shaOfRun.set(id, r.body.head_sha);
    const sha = shaOfRun.get(id);
    // A quick build can go from queued to completed in one update (each carries the newest state).
    if (sha && (r.body.status === "in_progress" || r.body.status === "completed") && !inProgressAt.has(sha)) inProgressAt.set(sha, r.at);
  };
  const github = await startFakeGitHub(seen);
  const payload = pushPayload();
  const config = benchConfig(o.dir, "bench/check-run-latency.ts", {
    host: "0.0.0.0",
    targets: [{ name: "hello-world", repository: payload.repository.full_name, url: o.project.url, commands: o.project.commands, artifacts: o.project.artifacts, timeout: "5m" }],
  });
  const executor = createExecutor("docker", { logger: o.logger.child("executor"), instance: o.instance });
  const server = await startServer({ config, executor, logger: o.logger, env: { CICD_API_TOKEN: "bench-api-token-0123456789", ...github.env } });
  const samplesMs: number[] = [];
  // Real commits of the sample project, one per push (newest last), so every build runs.
  const commits = execFileSync("git", ["rev-list", "--reverse", "HEAD"], { cwd: o.project.dir, encoding: "utf8" }).trim().split("\n");
  if (commits.length < o.n + 1) throw new Error(`the sample project has ${commits.length} commits; BENCH_CHECKRUN_N must be below that`);
  try {
    for (let i = 0; i <= o.n; i++) {
      const sha = commits[i]!;
      const body = JSON.stringify({ ...payload, after: sha, head_commit: { ...payload.head_commit, id: sha } });
      const signature = `sha256=${createHmac("sha256", github.webhookSecret).update(body).digest("hex")}`;
      const sent = performance.now();
      const answer = await fetch(`${server.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": randomBytes(8).toString("hex"), "x-hub-signature-256": signature },
        body,
      });
      if (answer.status !== 200) throw new Error(`the push webhook was answered ${answer.status}`);
      const deadline = Date.now() + 120_000;
      while (!inProgressAt.has(sha)) {
        if (Date.now() > deadline) throw new Error(`no check run in_progress for ${sha} within 2 minutes`);
        await sleep(2);
      }
      if (i > 0) samplesMs.push(inProgressAt.get(sha)! - sent);
      const [build] = server.manager.list({ target: "hello-world" }).filter((b) => b.sha === sha);
      if (build) await server.manager.waitFor(build.key, (b) => FINAL_STATUSES.includes(b.status), 300_000);
      await sleep(500);
    }
  } finally {
    await server.close(0);
    await github.close();
  }
  return { samplesMs, p50Ms: percentile(samplesMs, 50), p95Ms: percentile(samplesMs, 95) };
}
