/**
 * Fault injection: the Docker engine restarted in the middle of builds (issue 10).
 * `npx tsx scripts/fault-dockerd-restart.ts [--slow 3] [--new 2] [--sleep 30] [--down 3]
 * [--quiet-wait 300] [--timeout 480]`.
 *
 * WARNING: this RESTARTS THE MACHINE'S DOCKER ENGINE (SIGTERM to dockerd, then dockerd started
 * again as scripts/ensure-docker.sh does). Every container on the machine stops with it. It must
 * not run beside other Docker work: it waits (up to --quiet-wait seconds) until no container but
 * its own has run for 20 s in a row, checks again just before the stop, and gives up (exit 2,
 * engine untouched) if others' containers run. It only touches a dockerd whose command line is exactly
 * `dockerd --storage-driver=overlay2` (ensure-docker.sh's); any other engine is left alone.
 *
 * What it does: a real `cicd server` process (src/ compiled at the start, plain node; docker
 * executor, concurrency 2, REST triggers, no GitHub) gets --slow builds whose commands are
 * `sleep 30 && sh build.sh` (two run, the rest wait in the queue). Once both run, the engine is
 * stopped, stays down --down seconds, and is started again. Then --new quick builds are
 * triggered. Expected: the slow builds' attempts end as interruptions and are tried again per
 * maxAttempts (3; back-off 2 s, 8 s, 32 s …), never `failed` (their commands are not to blame);
 * the server's /healthz answers 200 throughout (polled every 0.5 s); the new builds succeed.
 * It prints each build (status, attempts, reason, times, its log's attempt lines), the engine's
 * times, and the health record. Exit 0 only when the server stayed up, every build ended, none
 * ended `failed`, every interrupted build was tried again, and the new builds succeeded.
 *
 * It stops by itself (every wait bounded, a watchdog at --timeout) and cleans up what it
 * started: the server by pid, containers labelled with its own database's cicd.instance, its
 * temp folder. The engine it restarted is left running (detached, as ensure-docker.sh leaves it).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CicdClient } from "../src/client/index.js";
import type { Build } from "../src/client/index.js";
import { FINAL_STATUSES } from "../src/manager/types.js";
import { ensureImage, projectRoot } from "../test/helpers/images.js";
import { freePort, type ServerProcess } from "../test/helpers/server-process.js";
import { dockerAnswers, dockerdLog, dockerdLogTail, ensureDockerdPid, startDockerd, stopDockerd } from "./fault/dockerd.js";
import { counts, FaultCleanup, instanceOf, othersRunning, secs, sleep, snapshotCli, startServer, until, within } from "./fault/fault-run.js";

const { values } = parseArgs({
  options: {
    slow: { type: "string", default: "3" },
    new: { type: "string", default: "2" },
    sleep: { type: "string", default: "30" },
    down: { type: "string", default: "3" },
    "quiet-wait": { type: "string", default: "300" },
    timeout: { type: "string", default: "480" },
  },
});
const SLOW = Number(values.slow);
const NEW = Number(values.new);
const SLEEP = Number(values.sleep);
const downMs = Number(values.down) * 1000;
const quietMs = Number(values["quiet-wait"]) * 1000;
const timeoutMs = Number(values.timeout) * 1000;

const t0 = Date.now();
const at = (t = Date.now()) => secs(t - t0);
const atIso = (iso: string | null) => (iso ? at(Date.parse(iso)) : "-");
// The time box starts once the machine is quiet (the wait for that has its own bound).
let deadline = t0 + quietMs + timeoutMs;
const left = () => Math.max(deadline - Date.now(), 0);

const cleanup = new FaultCleanup();
const watchdog = setTimeout(() => {
  console.error(`fault-dockerd-restart: watchdog: still running after ${secs(quietMs + timeoutMs + 60_000)}; cleaning up (the engine is left as it is)`);
  void cleanup.run().finally(() => process.exit(1));
}, quietMs + timeoutMs + 60_000);
watchdog.unref();

const checks: { name: string; ok: boolean; detail: string }[] = [];
const check = (name: string, ok: boolean, detail = "") => checks.push({ name, ok, detail });
/** Not run (the engine untouched): exit 2. */
class NotRun extends Error {}

console.log(`fault-dockerd-restart: ${SLOW} slow builds (sleep ${SLEEP} && sh build.sh), engine down ${secs(downMs)}, then ${NEW} new builds; concurrency 2, maxAttempts 3`);
try {
  const pid = await ensureDockerdPid();
  if (typeof pid === "string") throw new NotRun(`not restarting the engine: ${pid}`);
  await ensureImage("builder");
  const cli = await snapshotCli(cleanup, "fault-dockerd");
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-fault-dockerd-"));
  cleanup.dir(dir);
  const database = path.join(dir, "data", "cicd.sqlite");
  const instance = instanceOf(database);
  cleanup.containers(instance);
  console.log(`  ${at()} builder image current, server compiled; dockerd pid ${pid}; data in ${dir}; containers labelled cicd.instance=${instance}`);

  // Nobody else's containers may run when the engine goes down: wait for 20 s in a row without
  // any (test suites start containers case after case, with short gaps between).
  let quietSince = Date.now();
  const quiet = await until(async () => {
    if ((await othersRunning(instance)).length) quietSince = Date.now();
    return Date.now() - quietSince >= 20_000 ? true : undefined;
  }, quietMs, 1_000);
  if (!quiet) throw new NotRun(`not restarting the engine: others' containers ran in the last 20 s for ${secs(quietMs)}: ${(await othersRunning(instance)).join(" ")}`);
  console.log(`  ${at()} no other container has run for 20 s`);
  deadline = Date.now() + timeoutMs;

  const port = await freePort();
  const config = path.join(dir, "cicd.yml");
  const url = `files://${path.join(projectRoot, "examples/hello")}`;
  writeFileSync(
    config,
    [
      `port: ${port}`,
      "concurrency: 2",
      "maxAttempts: 3",
      `database: ${database}`,
      `servicefs: ${path.join(dir, "data", "servicefs")}`,
      "targets:",
      "  - name: slow",
      `    url: ${url}`,
      `    commands: ["sleep ${SLEEP} && sh build.sh"]`,
      `    artifacts: ["dist/*.mjs"]`,
      "  - name: quick",
      `    url: ${url}`,
      `    commands: ["sh build.sh"]`,
      `    artifacts: ["dist/*.mjs"]`,
    ].join("\n"),
  );
  const env: NodeJS.ProcessEnv = { CICD_API_TOKEN: "fault-dockerd-restart-token" };
  const base = `http://127.0.0.1:${port}`;
  const client = new CicdClient({ baseUrl: base, token: env.CICD_API_TOKEN! });
  const server: ServerProcess = await startServer(cli, config, env, (s) => cleanup.server(s), Math.min(60_000, left()));
  console.log(`  ${at()} server started (pid ${server.child.pid}) on ${base}`);

  // /healthz every 0.5 s for the whole run.
  const health = { ok: 0, bad: [] as string[] };
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const answer = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
        async (res) => (await res.arrayBuffer(), res.status === 200 ? "ok" : `HTTP ${res.status}`),
        (error: unknown) => (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name,
      );
      if (!watching) break;
      if (answer === "ok") health.ok++;
      else health.bad.push(`${at()} ${answer}`);
      await sleep(500);
    }
  })();
  let serverExit: string | undefined;
  void server.exited.then((code) => (serverExit ??= `exited with ${code ?? server.child.signalCode} at ${at()}`));

  const slow: Build[] = [];
  for (let i = 0; i < SLOW; i++) slow.push(await client.triggerBuild("slow"));
  const all = () => client.listBuilds({ limit: 1000 });
  const twoRunning = await until(async () => ((await all()).filter((b) => b.status === "running").length >= Math.min(2, SLOW) ? true : undefined), Math.min(120_000, left()), 250);
  if (!twoRunning) throw new Error("the slow builds did not start running within 2 minutes");
  await sleep(5_000); // well inside their `sleep`
  const runningAtStop = (await all()).filter((b) => b.status === "running").map((b) => b.key);

  const others = await othersRunning(instance);
  if (others.length) throw new NotRun(`not restarting the engine: other containers started meanwhile: ${others.join(" ")}`);
  const again = await ensureDockerdPid();
  if (again !== pid) throw new NotRun(`not restarting the engine: dockerd changed (${again})`);

  const times: Record<string, number> = {};
  times.stop = Date.now();
  console.log(`  ${at()} SIGTERM to dockerd (pid ${pid}); running: ${runningAtStop.join(", ")}`);
  const stopped = await stopDockerd(pid);
  times.exited = Date.now();
  if (!stopped) throw new Error(`dockerd (pid ${pid}) did not exit within 90 s of SIGTERM; it is left as it is`);
  console.log(`  ${at()} dockerd exited; the engine stays down ${secs(downMs)}`);
  await sleep(downMs);
  times.start = Date.now();
  const newPid = await startDockerd();
  times.answered = Date.now();
  if (!newPid) {
    console.error(`dockerd did not answer within 90 s of its start; its log (${dockerdLog()}):\n${dockerdLogTail()}`);
    throw new Error("the engine did not come back");
  }
  console.log(`  ${at()} dockerd started again (pid ${newPid}, log ${dockerdLog()}); docker info answers after ${secs(times.answered - times.start)}`);

  const fresh: Build[] = [];
  for (let i = 0; i < NEW; i++) fresh.push(await client.triggerBuild("quick"));
  console.log(`  ${at()} ${NEW} new builds triggered`);
  const ended = await until(async () => {
    const builds = await all();
    return builds.length === SLOW + NEW && builds.every((b) => FINAL_STATUSES.includes(b.status)) ? Date.now() : undefined;
  }, left(), 500);
  console.log(`  ${at()} ${ended ? "every build ended" : "NOT every build ended"}`);
  const builds = await all();
  const logs = new Map<string, string[]>();
  for (const b of builds) {
    const text = await client.getLog(b.key).catch((error: unknown) => `(no log: ${error instanceof Error ? error.message : String(error)})`);
    logs.set(b.key, text.split("\n").filter((l) => /attempt|interrupt|stopped from outside|without reporting|engine|trying again|gave up|warm builder/i.test(l)));
  }

  watching = false;
  await watcher;
  const stayedUp = serverExit === undefined;
  const exitedEarly = serverExit ?? "";
  server.child.kill("SIGTERM");
  const code = await within(server.exited, 60_000, "still running");

  const slowBuilds = builds.filter((b) => b.target === "slow");
  const newBuilds = builds.filter((b) => b.target === "quick");
  const interrupted = slowBuilds.filter((b) => runningAtStop.includes(b.key));
  check("the server stayed up (its process never exited)", stayedUp, exitedEarly);
  check("/healthz answered 200 throughout", health.bad.length === 0, `${health.ok} answers 200, ${health.bad.length} other${health.bad.length ? `: ${health.bad.slice(0, 5).join("; ")}` : ""}`);
  check("every build ended", builds.length === SLOW + NEW && builds.every((b) => FINAL_STATUSES.includes(b.status)), counts(builds.map((b) => b.status)));
  check("no build ended failed (commands blamed for the engine)", builds.every((b) => b.status !== "failed"), builds.filter((b) => b.status === "failed").map((b) => `${b.key}: ${b.reason}`).join("; "));
  check("every build running at the stop was tried again", interrupted.length > 0 && interrupted.every((b) => b.attempts >= 2), interrupted.map((b) => `${b.key}: ${b.attempts} attempts`).join(", "));
  check("the new builds succeeded", newBuilds.length === NEW && newBuilds.every((b) => b.status === "succeeded"), counts(newBuilds.map((b) => b.status)));
  check("the server stops on SIGTERM with exit 0", code === 0, `exit ${code}`);

  console.log("");
  for (const b of builds.sort((x, y) => x.createdAt.localeCompare(y.createdAt))) {
    console.log(`build ${b.key} (${b.target}${runningAtStop.includes(b.key) ? ", running at the stop" : ""}): ${b.status}, ${b.attempts} attempt(s); created ${atIso(b.createdAt)}, started ${atIso(b.startedAt)}, finished ${atIso(b.finishedAt)}; reason: ${b.reason ?? "-"}`);
    for (const line of logs.get(b.key) ?? []) console.log(`    | ${line.slice(0, 300)}`);
  }
  console.log("");
  console.log(`summary: engine: SIGTERM at ${at(times.stop)}, exited at ${at(times.exited)} (${secs(times.exited - times.stop)}), started at ${at(times.start)}, answered at ${at(times.answered)} (${secs(times.answered - times.start)}); down ${secs(times.answered - times.stop)} in all`);
  console.log(`summary: builds: slow ${counts(slowBuilds.map((b) => b.status))}; new ${counts(newBuilds.map((b) => b.status))}; attempts ${counts(builds.map((b) => b.attempts))}`);
  console.log(`summary: health: ${health.ok} answers 200, ${health.bad.length} other; every build ended at ${ended ? at(ended) : "never"}; total ${at()}`);
  for (const c of checks) console.log(`check ${c.ok ? "ok  " : "FAIL"} ${c.name}${c.detail ? ` (${c.detail})` : ""}`);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length) console.log(`\nserver's output (tail):\n${server.output().split("\n").slice(-50).join("\n")}`);
  console.log(failed.length ? `FAILED: ${failed.length} of ${checks.length} checks` : `PASSED: all ${checks.length} checks`);
  process.exitCode = failed.length ? 1 : 0;
} catch (error) {
  if (error instanceof NotRun) {
    console.error(`fault-dockerd-restart: ${error.message}`);
    process.exitCode = 2;
  } else {
    console.error(`fault-dockerd-restart: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  }
} finally {
  // An engine this run stopped and could not start again is the one thing cleanup cannot undo.
  if (!(await dockerAnswers())) console.error(`fault-dockerd-restart: WARNING: the Docker engine does not answer; run scripts/ensure-docker.sh (log: ${dockerdLog()})`);
  const began = Date.now();
  await cleanup.run();
  console.log(`cleaned up in ${secs(Date.now() - began)}`);
  clearTimeout(watchdog);
}
