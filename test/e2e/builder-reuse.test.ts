import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import type { WorkloadSpec } from "../../src/executor/types.js";
import type { Build } from "../../src/manager/types.js";
import { requireDocker } from "../helpers/docker.js";
import { freePort } from "../helpers/free-port.js";
import { ensureImage, projectRoot } from "../helpers/images.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const hasDocker = await requireDocker();
const example = path.join(projectRoot, "examples/hello");
const ended = (b: Build) => !["queued", "running"].includes(b.status);

/**
 * `reuse: N` in builder containers: one container serves a target's builds one after another,
 * each in its own work tree and with its own log, until it has served N, a build fails, or a
 * fork's build comes (never on a reused builder).
 */
describe.skipIf(!hasDocker)("builder reuse in builder containers", () => {
  let server: TestServer;
  const started: WorkloadSpec[] = [];

  beforeAll(async () => {
    await ensureImage("builder");
    const executor = new DockerExecutor({ logger: memoryLogger(), instance: `reuse-e2e-${process.pid}` });
    const start = executor.start.bind(executor);
    executor.start = (spec) => (started.push(spec), start(spec));
    const commands = [
      'echo "build $CICD_BUILD_KEY in $PWD"',
      'test ! -e left-by-the-last-build || { echo "found the last build\'s file"; exit 9; }',
      "echo mine > left-by-the-last-build",
      "sh build.sh",
    ];
    const failsOnce = ["if [ ! -e /cache/flaky/failed-once ]; then touch /cache/flaky/failed-once; echo failing; exit 3; fi", "sh build.sh"];
    server = await startTestServer(
      testConfig({ host: "0.0.0.0", concurrency: 1, warmBuilders: false, targets: [
        { name: "app", url: `files://${example}`, commands, artifacts: ["dist/*.mjs"], reuse: 3 },
        { name: "flaky", url: `files://${example}`, commands: failsOnce, artifacts: ["dist/*.mjs"], reuse: 3, cache: ["/cache/flaky"] },
      ] }),
      { executor },
    );
  }, 600_000);
  afterAll(async () => {
    await server?.close(0);
  }, 120_000);

  const build = async (more: Record<string, unknown> = {}, target = "app") => {
    const { build } = await server.manager.trigger({ target, trigger: "api", ...more });
    // The log is read once it is complete: a reused builder's log ends after the build's status.
    const logEnded = new Promise<void>((resolve) => server.manager.onLog(build.key, () => undefined, resolve));
    const done = await server.manager.waitFor(build.key, ended, 180_000);
    await logEnded;
    return { done, log: readFileSync(server.manager.logPath(build.key), "utf8") };
  };

  it("serves `reuse` builds from one container, each with a fresh work tree and only its own log, then starts another", async () => {
    const builds = [];
    for (let i = 0; i < 4; i++) builds.push(await build());
    for (const b of builds) expect(b.done.status, b.log).toBe("succeeded");
    const builders = started.filter((s) => s.role === "builder");
    expect(builders).toHaveLength(2); // builds 1–3 on the first, build 4 on a second
    expect(builders[0]!.args.join(" ")).toContain("--max-builds 3");
    for (const [i, b] of builds.entries()) {
      expect(b.log).toContain(`build ${b.done.key} in`);
      // Its log is whole: it runs to the builder's own last line of the build.
      expect(b.log).toMatch(new RegExp(`build succeeded[^\n]*${b.done.key}`));
      // Only its own output: no other build's key.
      for (const [j, other] of builds.entries()) if (i !== j) expect(b.log).not.toContain(other.done.key);
    }
    // A fork's build gets a builder of its own, never a reused one (and is not reused either).
    const fork = await build({ trigger: "pull_request", ref: "refs/pull/7/head", sha: undefined, pullRequest: 7, untrusted: true });
    expect(fork.done.status, fork.log).toBe("succeeded");
    expect(started.filter((s) => s.role === "builder").length).toBe(3);
    expect(started.at(-1)!.args).toContain("--once");
  }, 400_000);

  it("never reuses the builder of a failed build: it is stopped, and the build fails with its command's code", async () => {
    const before = started.filter((s) => s.target === "flaky").length;
    const failed = await build({}, "flaky");
    expect(failed.done.status).toBe("failed");
    expect(failed.done.exitCode).toBe(3);
    const next = await build({}, "flaky");
    expect(next.done.status, next.log).toBe("succeeded");
    expect(started.filter((s) => s.target === "flaky").length - before).toBe(2);
  }, 300_000);

  it("ends a build re-attached after a restart when its reused builder says it is ready again, and removes that builder", async () => {
    const commands = ["touch /cache/gate/waiting", "while [ ! -e /cache/gate/open ]; do sleep 0.1; done", "sh build.sh"];
    // A fixed port: the builder calls back to the same address after the restart.
    const config = testConfig({ host: "0.0.0.0", port: await freePort(), concurrency: 1, warmBuilders: false, targets: [
      { name: "gated", url: `files://${example}`, commands, artifacts: ["dist/*.mjs"], reuse: 3, cache: ["/cache/gate"] },
    ] });
    const gate = path.join(path.dirname(config.database), "cache/targets/gated/cache_gate");
    const executor = () => new DockerExecutor({ logger: memoryLogger(), instance: `reuse-resume-${process.pid}` });
    const first = await startTestServer(config, { executor: executor() });
    const { build } = await first.manager.trigger({ target: "gated", trigger: "api" });
    for (let i = 0; i < 1200 && !existsSync(path.join(gate, "waiting")); i++) await new Promise((r) => setTimeout(r, 100));
    await first.close(0);
    const second = await startTestServer(config, { executor: executor() });
    try {
      writeFileSync(path.join(gate, "open"), "");
      // Well before the builder's own idle exit (90 s): the manager stops it once it is ready again.
      const done = await second.manager.waitFor(build.key, ended, 60_000);
      const log = readFileSync(second.manager.logPath(build.key), "utf8");
      expect(log).toContain("re-attached to the running builder");
      expect(done.status, log).toBe("succeeded");
      const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=cicd.build=${build.key}`], { encoding: "utf8" }).trim();
      expect(left).toBe("");
    } finally {
      await second.close(0);
    }
  }, 300_000);
});
