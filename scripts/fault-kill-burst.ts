/**
 * Fault injection, the long run of `kill -9` (issue 10): `npx tsx scripts/fault-kill-burst.ts
 * [--builds 100] [--kills 10] [--seed N] [--timeout 570] [--supersede false|true|running]
 * [--cli FILE]`.
 * test/e2e/check-runs-crash.test.ts at scale: a real `cicd server` process (src/ compiled once
 * at the start, run with plain node, so edits made to src/ during the run do not reach it) on
 * the Docker executor (concurrency 2) with the GitHub App
 * on, against the fake GitHub API on 127.0.0.1 (Octokit's production pacing: writes a second
 * apart). It sends a burst of signed pushes of examples/hello (files://), each a distinct commit,
 * resending every one that got no 200 under a new delivery id (a replay the server must not
 * queue twice), and `kill -9`s the server at seeded moments: when the run's progress (pushes
 * accepted + builds ended, 0 … 2×builds) first reaches a drawn point, plus a drawn 0–2 s. Each
 * kill is followed at once by a restart, which must listen at the first try (the dead server's
 * database lock is gone with it; its containers are re-attached or swept by the new one).
 *
 * At the end it checks, and prints: every push queued one build; every build ended once (final
 * status, one record per key, no container of an ended build left); no key twice in
 * builds.json, and builds.json holds exactly the succeeded builds; every pushed commit has
 * exactly one check run, completed with its build's conclusion; counts by status and
 * conclusion; the attempts histogram; the times. Exit 0 only when every check holds.
 *
 * Stops by itself (every wait is bounded, and a watchdog ends the run at --timeout seconds), and
 * cleans up what it started: server processes by pid, containers labelled with its own
 * database's cicd.instance, its temp folder. On this 2-core machine the defaults take about
 * 5–8 minutes, most of it builds (two at a time) and check runs (one write a second).
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CicdClient } from "../src/client/index.js";
import { conclusionOf } from "../src/github/check-run-state.js";
import type { Build } from "../src/client/index.js";
import { FINAL_STATUSES } from "../src/manager/types.js";
import type { BuildsDocument } from "../src/servicefs/builds-file.js";
import { startFakeGitHubApi } from "../test/fixtures/fake-github-api.js";
import { testPrivateKey, WEBHOOK_SECRET } from "../test/fixtures/github-app-fixture.js";
import { pushPayload } from "../test/fixtures/webhook-payloads.js";
import { ensureImage, projectRoot } from "../test/helpers/images.js";
import { freePort, type ServerProcess } from "../test/helpers/server-process.js";
import { containerBuildKeys, counts, FaultCleanup, instanceOf, randomSha, secs, seededRandom, sleep, snapshotCli, startServer, until, within } from "./fault/fault-run.js";

const { values } = parseArgs({
  options: {
    builds: { type: "string", default: "100" },
    kills: { type: "string", default: "10" },
    seed: { type: "string" },
    timeout: { type: "string", default: "570" },
    supersede: { type: "string", default: "false" },
    cli: { type: "string" },
  },
});
const N = Number(values.builds);
const K = Number(values.kills);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const timeoutMs = Number(values.timeout) * 1000;
if (!(N >= 1 && K >= 0 && Number.isFinite(seed) && timeoutMs > 0)) throw new Error("usage: fault-kill-burst.ts [--builds N>=1] [--kills K>=0] [--seed N] [--timeout SECONDS]");

const random = seededRandom(seed);
const t0 = Date.now();
const at = () => secs(Date.now() - t0);
const deadline = t0 + timeoutMs;
const left = () => Math.max(deadline - Date.now(), 0);

// The kill moments, drawn before anything else so a seed always gives the same ones.
const moments = Array.from({ length: K }, () => ({ progress: 1 + Math.floor(random() * (2 * N - 1)), jitterMs: Math.floor(random() * 2000) })).sort((a, b) => a.progress - b.progress);
const shas = Array.from({ length: N }, () => randomSha(random));

const cleanup = new FaultCleanup();
const watchdog = setTimeout(() => {
  console.error(`fault-kill-burst: watchdog: still running after ${secs(timeoutMs + 30_000)}; cleaning up`);
  void cleanup.run().finally(() => process.exit(1));
}, timeoutMs + 30_000);
watchdog.unref();

console.log(`fault-kill-burst: ${N} pushes, ${K} kill -9, seed ${seed}, concurrency 2, supersede ${values.supersede}, timeout ${secs(timeoutMs)}`);
console.log(`kill moments (progress = pushes accepted + builds ended, of ${2 * N}; then +jitter): ${moments.map((m) => `${m.progress}+${m.jitterMs}ms`).join(", ") || "none"}`);

const checks: { name: string; ok: boolean; detail: string }[] = [];
const check = (name: string, ok: boolean, detail = "") => checks.push({ name, ok, detail });

try {
  await ensureImage("builder");
  // --cli FILE: a cicd CLI compiled elsewhere (e.g. a patched copy of src/), run with node.
  const cli = values.cli ? [path.resolve(values.cli)] : await snapshotCli(cleanup, "fault-kill");
  console.log(`  ${at()} builder image current, server compiled`);
  const github = await startFakeGitHubApi();
  cleanup.add("close the fake GitHub API", () => github.close());
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-fault-kill-"));
  cleanup.dir(dir);
  const database = path.join(dir, "data", "cicd.sqlite");
  const instance = instanceOf(database);
  cleanup.containers(instance);
  const port = await freePort();
  const config = path.join(dir, "cicd.yml");
  writeFileSync(
    config,
    [
      `port: ${port}`,
      "concurrency: 2",
      "publicUrl: http://ci.example.test",
      `database: ${database}`,
      `servicefs: ${path.join(dir, "data", "servicefs")}`,
      "targets:",
      "  - name: hello",
      "    repository: Codertocat/Hello-World",
      `    url: files://${path.join(projectRoot, "examples/hello")}`,
      "    branches: [master]",
      `    commands: ["sh build.sh"]`,
      `    artifacts: ["dist/*.mjs"]`,
      // Every push is built (false, the default here): with true, a newer push cancels the
      // queued builds of older ones, and most of the burst would never reach a builder.
      `    supersede: ${values.supersede}`,
    ].join("\n"),
  );
  const env: NodeJS.ProcessEnv = {
    CICD_API_TOKEN: `fault-kill-burst-${seed}`,
    APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http",
  };
  const base = `http://127.0.0.1:${port}`;
  const client = new CicdClient({ baseUrl: base, token: env.CICD_API_TOKEN! });
  console.log(`data in ${dir}; containers labelled cicd.instance=${instance}; server on ${base}`);

  const servers: ServerProcess[] = [];
  const restarts: number[] = [];
  let failedStarts = 0;
  /** A server, at the first try if it can; a failed start is counted (the check wants none). */
  const start = async (): Promise<ServerProcess> => {
    for (let tries = 1; ; tries++) {
      const began = Date.now();
      try {
        const server = await startServer(cli, config, env, (s) => (servers.push(s), cleanup.server(s)), Math.min(60_000, left()));
        restarts.push(Date.now() - began);
        return server;
      } catch (error) {
        failedStarts++;
        console.log(`  ${at()} start ${tries} failed: ${error instanceof Error ? error.message : String(error)}`);
        if (tries >= 5 || left() === 0) throw new Error("the server would not start again", { cause: error });
        await sleep(1_000);
      }
    }
  };

  // What the server last said about its builds (kept while it is down).
  let seen: Build[] = [];
  let serverUp = false;
  const poll = async () => {
    if (!serverUp) return;
    seen = await client.listBuilds({ target: "hello", limit: 1000 }).catch(() => seen);
  };
  let polling = true;
  const poller = (async () => {
    while (polling) await Promise.all([poll(), sleep(250)]);
  })();

  // The burst: four senders, each push resent (new delivery id) until it gets 200.
  let accepted = 0;
  let resends = 0;
  const answers: string[] = [];
  const sendOne = async (i: number) => {
    const payload = pushPayload("refs/heads/master");
    payload.after = shas[i];
    payload.head_commit = { ...payload.head_commit, id: shas[i] };
    const body = JSON.stringify(payload);
    const signature = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`;
    for (let tries = 1; left() > 0; tries++) {
      const status = await fetch(`${base}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": `kill-burst-${i}-${tries}`, "x-hub-signature-256": signature },
        body,
        signal: AbortSignal.timeout(15_000),
      }).then((res) => (void res.arrayBuffer().catch(() => undefined), String(res.status)), (error: unknown) => (error as { cause?: { code?: string } }).cause?.code ?? "no answer");
      answers.push(status);
      if (status === "200") return void accepted++;
      resends++;
      await sleep(300);
    }
  };
  let next = 0;
  let sent = 0;
  const sendAll = () => Promise.all(Array.from({ length: 4 }, async () => {
    while (next < N) await sendOne(next++);
  })).then(() => void (sent = Date.now() - t0));

  const ended = () => seen.filter((b) => FINAL_STATUSES.includes(b.status)).length;
  let server = await start();
  serverUp = true;
  console.log(`  ${at()} server started (pid ${server.child.pid}), sending ${N} pushes`);
  const sender = sendAll();
  for (const [i, moment] of moments.entries()) {
    const reached = await until(() => accepted + ended() >= moment.progress, left(), 100);
    if (!reached) break;
    await sleep(moment.jitterMs);
    const running = seen.filter((b) => b.status === "running").length;
    const when = `${at()}: ${accepted}/${N} pushes accepted, ${ended()}/${N} ended, ${running} running`;
    serverUp = false;
    server.child.kill("SIGKILL");
    await server.exited;
    server = await start();
    serverUp = true;
    console.log(`  kill ${i + 1} at ${when}; restarted (pid ${server.child.pid}) in ${secs(restarts.at(-1)!)}`);
  }
  await sender;

  // Every build ended, then every check run caught up (both bounded by the total timeout).
  const allEnded = await until(async () => {
    await poll();
    return seen.length >= N && seen.every((b) => FINAL_STATUSES.includes(b.status)) ? Date.now() - t0 : undefined;
  }, left(), 500);
  console.log(`  ${at()} ${allEnded ? "every build ended" : "NOT every build ended"}`);
  const runsOf = (sha: string) => [...github.checkRuns.values()].filter((r) => r.head_sha === sha);
  const caughtUp = await until(() => shas.every((sha) => runsOf(sha).length >= 1 && runsOf(sha).every((r) => r.status === "completed")) ? Date.now() - t0 : undefined, left(), 500);
  console.log(`  ${at()} ${caughtUp ? "every check run completed" : "NOT every check run completed"}`);
  // A finished build's container is removed after its result (outside its slot): give it time.
  const endedKeys = () => new Set(seen.filter((b) => FINAL_STATUSES.includes(b.status)).map((b) => b.key));
  const leftovers = async () => (await containerBuildKeys(instance)).filter((k) => endedKeys().has(k));
  await until(async () => ((await leftovers()).length === 0 ? true : undefined), Math.min(60_000, left()), 1_000);
  const orphans = await leftovers();
  polling = false;
  await poller;
  const builds = await client.listBuilds({ target: "hello", limit: 1000 });

  // The checks.
  const keys = builds.map((b) => b.key);
  const bySha = new Map<string, Build[]>();
  for (const b of builds) bySha.set(b.sha ?? "none", [...(bySha.get(b.sha ?? "none") ?? []), b]);
  check("builds queued: one per push", builds.length === N && shas.every((s) => bySha.get(s)?.length === 1), `${builds.length} builds for ${N} pushes; commits with no build: ${shas.filter((s) => !bySha.has(s)).length}, with more than one: ${[...bySha.values()].filter((v) => v.length > 1).length}`);
  check("every build ended (final status)", builds.every((b) => FINAL_STATUSES.includes(b.status) && b.finishedAt !== null), `${builds.filter((b) => !FINAL_STATUSES.includes(b.status)).length} not final`);
  check("one record per key", new Set(keys).size === keys.length, `${keys.length - new Set(keys).size} keys twice`);
  check("no container of an ended build left", orphans.length === 0, orphans.length ? `left: ${orphans.join(", ")}` : "");
  const doc = JSON.parse(readFileSync(path.join(dir, "data", "servicefs", "hello", "builds.json"), "utf8")) as BuildsDocument;
  const recorded = doc.builds.map((r) => r.key);
  const succeeded = builds.filter((b) => b.status === "succeeded").map((b) => b.key);
  check("no key twice in builds.json", new Set(recorded).size === recorded.length, `${recorded.length} records, ${new Set(recorded).size} keys`);
  check("builds.json holds exactly the succeeded builds", recorded.length === succeeded.length && succeeded.every((k) => recorded.includes(k)), `${recorded.length} records, ${succeeded.length} succeeded`);
  const runs = [...github.checkRuns.values()];
  const wrongRuns = shas.filter((sha) => {
    const mine = runsOf(sha);
    const build = bySha.get(sha)?.[0];
    return mine.length !== 1 || !build || mine[0]!.external_id !== build.key || mine[0]!.status !== "completed" || mine[0]!.conclusion !== conclusionOf(build as unknown as Parameters<typeof conclusionOf>[0]);
  });
  check("every pushed commit has exactly one check run, completed with its build's conclusion", wrongRuns.length === 0 && runs.length === N, `${runs.length} check runs for ${N} commits; wrong: ${wrongRuns.length}${wrongRuns.length ? ` (${wrongRuns.slice(0, 5).map((s) => `${s.slice(0, 8)}: ${JSON.stringify(runsOf(s).map((r) => [r.status, r.conclusion]))}`).join("; ")})` : ""}`);
  const open = runs.filter((r) => r.status !== "completed");
  check("no check run left queued or in_progress", open.length === 0, `${open.length} open`);
  check("every restart listened at the first try", failedStarts === 0, `${failedStarts} failed starts`);
  check("no installation token in the servers' output", !servers.some((s) => s.output().includes(github.token)));

  // A last graceful stop: the server that survived everything also stops cleanly.
  serverUp = false;
  server.child.kill("SIGTERM");
  const code = await within(server.exited, 60_000, "still running");
  check("the last server stops on SIGTERM with exit 0", code === 0, `exit ${code}`);
  const took = Date.now() - t0;

  console.log("");
  console.log(`summary: seed ${seed}; ${N} pushes, ${K} kills (${restarts.length - 1} restarts, each in ${restarts.slice(1).map(secs).join(", ") || "-"})`);
  console.log(`summary: pushes: ${accepted} accepted with 200 after ${resends} resends; answers: ${counts(answers)}`);
  console.log(`summary: builds: ${builds.length}; by status: ${counts(builds.map((b) => b.status))}`);
  console.log(`summary: check runs: ${runs.length}; by conclusion: ${counts(runs.map((r) => r.conclusion as string | undefined))}; GitHub requests: ${github.requests.length} (${counts(github.requests.map((r) => r.method))})`);
  console.log(`summary: attempts histogram: ${counts(builds.map((b) => b.attempts))}`);
  console.log(`summary: builds.json records: ${recorded.length}`);
  const reasons = builds.filter((b) => b.status !== "succeeded").map((b) => `${b.key} ${b.status}: ${b.reason}`);
  for (const r of reasons.slice(0, 10)) console.log(`  not succeeded: ${r}`);
  console.log(`summary: times: pushes all accepted ${secs(sent)}; builds all ended ${allEnded ? secs(allEnded) : "never"}; check runs all completed ${caughtUp ? secs(caughtUp) : "never"}; total ${secs(took)}`);
  for (const c of checks) console.log(`check ${c.ok ? "ok  " : "FAIL"} ${c.name}${c.detail ? ` (${c.detail})` : ""}`);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length) {
    console.log(`\nlast server's output (tail):\n${server.output().split("\n").slice(-40).join("\n")}`);
  }
  console.log(failed.length ? `FAILED: ${failed.length} of ${checks.length} checks` : `PASSED: all ${checks.length} checks`);
  process.exitCode = failed.length ? 1 : 0;
} catch (error) {
  console.error(`fault-kill-burst: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  const began = Date.now();
  await cleanup.run();
  console.log(`cleaned up in ${secs(Date.now() - began)}`);
  clearTimeout(watchdog);
}
