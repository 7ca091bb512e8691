import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor } from "../../src/executor/index.js";
import type { WorkloadSpec } from "../../src/executor/types.js";
import type { Build } from "../../src/manager/types.js";
import { requireDocker } from "../helpers/docker.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { createRepo, tempDir, type TestRepo } from "../helpers/git-repos.js";
import { ensureImage } from "../helpers/images.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { joinSwarm, type SwarmMembership } from "../helpers/swarm.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();
const TOKEN = "swarm-git-token-0123456789";

/**
 * Builds on a Swarm as a team that outgrew one machine runs them: the source comes over the
 * network (git over HTTP with a token, as from GitHub), the builder is a Swarm service that
 * fetches its build from the manager and sends its files back (no shared disk), the target's
 * cache and git mirror are volumes of the node. Then the faults: a cancelled build, a task
 * whose container dies, and the node taken away from a build in the middle of it. That last one
 * is done as Swarm does a drain, but for this test's builds only: the targets are placed by a
 * node label of this test, and removing the label makes Swarm shut their tasks down and place
 * no new one (a real `docker node update --availability drain` would stop the swarm tasks of
 * every other test file running beside this one).
 */
describe.skipIf(!hasDocker)("executor swarm, end to end", () => {
  const instance = `e2e-swarm-${process.pid}`;
  let swarm: SwarmMembership;
  let git: GitHttpServer;
  let repo: TestRepo;
  let root: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;
  let nodeId = "";
  const started: WorkloadSpec[] = [];
  /** The services of these builds (warm builders, started ahead for the next builds, are not theirs). */
  const services = async (...keys: string[]) => {
    const ids = await Promise.all(keys.map((key) => run("docker", ["service", "ls", "-q", "--filter", `label=cicd.instance=${instance}`, "--filter", `label=cicd.build=${key}`])));
    return ids.flatMap((r) => r.stdout.split("\n").filter(Boolean));
  };
  const containerOf = async (key: string) => (await run("docker", ["ps", "-q", "--filter", `label=cicd.build=${key}`])).stdout.trim();
  const waitFor = (key: string, done: (b: Build) => boolean, ms = 120_000) => server.manager.waitFor(key, done, ms);
  const ended = (b: Build) => !["queued", "running"].includes(b.status);
  const readLog = (key: string) => (existsSync(server.manager.logPath(key)) ? readFileSync(server.manager.logPath(key), "utf8") : "");

  /** The node volumes this test's targets leave (kept between builds, as they should be). */
  const removeVolumes = async () => {
    const names = (await run("docker", ["volume", "ls", "-q", "--filter", "name=cicd-"])).stdout.split("\n").filter((v) => /^cicd-(cache|git)-(hello|slow|drained|reused)-/.test(v));
    if (names.length) await run("docker", ["volume", "rm", "-f", ...names]).catch(() => undefined);
  };

  const label = `cicd-e2e-${process.pid}`;
  const setLabel = (on: boolean) => run("docker", ["node", "update", on ? "--label-add" : "--label-rm", on ? `${label}=yes` : label, nodeId]);

  beforeAll(async () => {
    swarm = await joinSwarm();
    await removeVolumes();
    nodeId = (await run("docker", ["info", "--format", "{{.Swarm.NodeID}}"])).stdout.trim();
    await setLabel(true);
    await ensureImage("builder");
    root = await tempDir("cicd-swarm-e2e-");
    repo = await createRepo({ name: "hello.git", root: root.dir });
    await repo.commit({
      "build.sh": "set -eu\nmkdir -p dist /home/cache/seen\necho built-on-swarm > dist/app.txt\nls /home/cache/seen | wc -l > dist/cached.txt\ntouch /home/cache/seen/$(date +%s%N)\n",
    });
    // On every address: a task reaches this machine at its bridge address.
    git = await startGitHttpServer({ root: root.dir, token: TOKEN, host: "0.0.0.0" });
    const port = new URL(git.origin).port;
    const target = (name: string, commands: string[], more: Record<string, unknown> = {}) => ({
      name,
      url: `http://host.docker.internal:${port}/hello.git`,
      token: TOKEN,
      commands,
      artifacts: ["dist/*"],
      cache: ["/home/cache"],
      placement: [`node.labels.${label}==yes`],
      ...more,
    });
    const executor = createExecutor("swarm", { logger: memoryLogger(), instance });
    const start = executor.start.bind(executor);
    executor.start = (spec) => (started.push(spec), start(spec));
    server = await startTestServer(
      testConfig({
        host: "0.0.0.0",
        executor: "swarm",
        concurrency: 2,
        maxAttempts: 3,
        targets: [
          target("hello", ["sh build.sh"]),
          target("slow", ["echo started; sleep 600"]),
          target("drained", ["sleep 4", "sh build.sh"]),
          target("reused", ['echo "build $CICD_BUILD_KEY"', "test ! -e left-behind", "touch left-behind", "sh build.sh"], { reuse: 2 }),
        ],
      }),
      { executor },
    );
  }, 600_000);

  afterAll(async () => {
    await setLabel(false).catch(() => undefined);
    await server?.close(0);
    const left = (await run("docker", ["service", "ls", "-q", "--filter", `label=cicd.instance=${instance}`]).catch(() => ({ stdout: "" }))).stdout.split("\n").filter(Boolean);
    if (left.length) await run("docker", ["service", "rm", ...left]).catch(() => undefined);
    await git?.close();
    await root?.cleanup();
    await removeVolumes().catch(() => undefined);
    await swarm?.leave();
  }, 120_000);

  it("builds from git over the network in a Swarm service, publishes the files it sent back, and keeps the cache in a node volume", async () => {
    const first = await server.manager.trigger({ target: "hello", trigger: "api", ref: "main" });
    const done = await waitFor(first.build.key, ended);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    const published = JSON.parse(readFileSync(path.join(server.config.servicefs, "hello", "builds.json"), "utf8")) as { builds: { key: string; artifacts: string[] }[] };
    const entry = published.builds.find((b) => b.key === first.build.key)!;
    const file = (name: string) => readFileSync(path.join(server.config.servicefs, "hello", name), "utf8");
    expect(entry.artifacts.map(file)).toContain("built-on-swarm\n");
    expect(entry.artifacts.map(file)).toContain("0\n");
    // The second build sees what the first left in its cache: the node's volume, not a host folder.
    const second = await server.manager.trigger({ target: "hello", trigger: "api", ref: "main" });
    expect((await waitFor(second.build.key, ended)).status).toBe("succeeded");
    const again = JSON.parse(readFileSync(path.join(server.config.servicefs, "hello", "builds.json"), "utf8")) as { builds: { key: string; artifacts: string[] }[] };
    const cached = again.builds.find((b) => b.key === second.build.key)!.artifacts.find((a) => a.includes("cached"))!;
    expect(file(cached)).toBe("1\n");
    const volumes = (await run("docker", ["volume", "ls", "-q", "--filter", "name=cicd-cache-hello-"])).stdout;
    expect(volumes).toContain("cicd-cache-hello-home_cache");
    expect(existsSync(path.join(server.config.servicefs, "..", "cache", "targets", "hello", "home_cache", "seen"))).toBe(false);
    // Nothing of them is left running: the builders' services are gone.
    await expect.poll(() => services(first.build.key, second.build.key), { timeout: 30_000, interval: 250 }).toEqual([]);
  }, 240_000);

  it("with `reuse: 2` one builder service fetches two builds in turn, each in a fresh work tree with its own log", async () => {
    const before = started.filter((s) => s.target === "reused").length;
    const keys: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { build } = await server.manager.trigger({ target: "reused", trigger: "api", ref: "main" });
      const logEnded = new Promise<void>((resolve) => server.manager.onLog(build.key, () => undefined, resolve));
      const done = await waitFor(build.key, ended);
      await logEnded;
      expect(done.status, readLog(build.key)).toBe("succeeded");
      keys.push(build.key);
    }
    const builders = started.filter((s) => s.target === "reused").slice(before);
    expect(builders).toHaveLength(1);
    expect(builders[0]!.args.join(" ")).toMatch(/--max-builds 2\b.*--fetch-build|--fetch-build.*--max-builds 2\b/);
    expect(readLog(keys[0]!)).toContain(`build ${keys[0]}`);
    expect(readLog(keys[0]!)).not.toContain(keys[1]!);
    expect(readLog(keys[1]!)).toContain(`build ${keys[1]}`);
    expect(readLog(keys[1]!)).not.toContain(keys[0]!);
    // Its last build served, the builder ends and its service goes (it carries the first key).
    await expect.poll(() => services(keys[0]!), { timeout: 30_000, interval: 250 }).toEqual([]);
  }, 240_000);

  it("cancelling a running build removes its service", async () => {
    const { build } = await server.manager.trigger({ target: "slow", trigger: "api", ref: "main" });
    await waitFor(build.key, (b) => b.status === "running");
    await expect.poll(() => readLog(build.key), { timeout: 60_000, interval: 200 }).toMatch(/^started$/m);
    await server.manager.cancel(build.key);
    expect((await waitFor(build.key, ended)).status).toBe("cancelled");
    await expect.poll(() => services(build.key), { timeout: 30_000, interval: 250 }).toEqual([]);
    await expect.poll(() => containerOf(build.key), { timeout: 30_000, interval: 250 }).toBe("");
  }, 180_000);

  it("a task whose container dies ends that attempt, and the build is tried again", async () => {
    const { build } = await server.manager.trigger({ target: "slow", trigger: "api", ref: "main" });
    await expect.poll(() => readLog(build.key), { timeout: 60_000, interval: 200 }).toMatch(/^started$/m);
    await run("docker", ["kill", await containerOf(build.key)]);
    await expect.poll(() => readLog(build.key), { timeout: 60_000, interval: 250 }).toMatch(/trying again in .* \(attempt 2 of 3\)/);
    // The second attempt runs its commands again, in a new task.
    await expect.poll(() => readLog(build.key).split("attempt 2 of 3").at(-1), { timeout: 120_000, interval: 250 }).toMatch(/^started$/m);
    expect(server.manager.get(build.key)!.attempts).toBeGreaterThanOrEqual(2);
    await server.manager.cancel(build.key);
    expect((await waitFor(build.key, ended)).status).toBe("cancelled");
  }, 180_000);

  it("the node taken from a build in the middle of it (as by a drain): the attempt ends, and the build runs again once a node can take it", async () => {
    const { build } = await server.manager.trigger({ target: "drained", trigger: "api", ref: "main" });
    await waitFor(build.key, (b) => b.status === "running");
    await setLabel(false);
    try {
      // The retry is queued while the node takes no task: its builder waits, pending.
      await expect.poll(() => readLog(build.key), { timeout: 60_000, interval: 250 }).toMatch(/trying again in .* \(attempt 2 of 3\)/);
    } finally {
      await setLabel(true);
    }
    const done = await waitFor(build.key, ended, 180_000);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(await readLog(build.key)).toMatch(/attempt 2 of 3/);
  }, 300_000);
});
