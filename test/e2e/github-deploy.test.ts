import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor, type ExecutorName } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { testPrivateKey, WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { sendWebhook } from "../fixtures/webhook-server.js";
import { examplePayload } from "../fixtures/webhook-payloads.js";
import { waitForValue } from "../helpers/wait-for.js";
import { joinSwarm, type SwarmMembership } from "../helpers/swarm.js";

const hasDocker = await requireDocker();


/**
 * The runner side of GitHub, on the real Docker engine: real builds (builder containers) publish
 * shell-script artifacts, a runner container runs them, the newest one fails and the runner marks
 * it bad — its check run says so — and the "Deploy" button on an older build's check run moves
 * the runner to that build. GitHub's API is a local fake server; webhooks are signed. Once per
 * executor that runs containers: on one engine, and as Swarm services (the runner, which reads
 * the manager's folders, placed on the manager's node).
 */
describe.skipIf(!hasDocker).each<ExecutorName>(["docker", "swarm"])("check runs and the runner (real Docker, executor %s)", (executor) => {
  let swarm: SwarmMembership | undefined;
  const sha = "d6fde92930d4715a2b49857d24b940956b26d2d3"; // head_sha of the check_run example payloads
  const source = mkdtempSync(path.join(tmpdir(), "cicd-deploy-src-"));
  let github: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  let server: TestServer;

  beforeAll(async () => {
    if (executor === "swarm") swarm = await joinSwarm();
    await Promise.all([ensureImage("builder"), ensureImage("runner")]);
    github = await startFakeGitHubApi({ permissions: { octocat: "write" } });
    writeFileSync(path.join(source, "build.sh"), "set -eu\nmkdir -p dist\ncp service.sh dist/svc.sh\n");
    server = await startTestServer(
      testConfig({
        host: "0.0.0.0",
        targets: [
          {
            name: "svc",
            repository: "github/hello-world",
            url: `files://${source}`,
            commands: ["sh build.sh"],
            artifacts: ["dist/svc.sh"],
            run: { command: "sh {file}" },
          },
        ],
      }),
      {
        executor: createExecutor(executor, { logger: memoryLogger(), instance: `e2e-deploy-${executor}` }),
        env: { APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http" },
      },
    );
  }, 600_000);
  afterAll(async () => {
    for (const r of (await server?.runners.list().catch(() => [])) ?? []) if (r.running) await server.runners.remove(r.id).catch(() => undefined);
    await server?.close(0);
    await github?.close();
    await swarm?.leave();
  }, 120_000);

  /** A real build of the service script `body`, as a push of the example commit would queue it. */
  async function build(body: string): Promise<Build> {
    writeFileSync(path.join(source, "service.sh"), `#!/bin/sh\n${body}\n`);
    const { build: queued } = await server.manager.trigger({ target: "svc", ref: "refs/heads/master", sha, trigger: "push", repository: "github/hello-world", installationId: 1 });
    const done = await server.manager.waitFor(queued.key, (b) => !["queued", "running"].includes(b.status), 120_000);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    return done;
  }
  const checkRun = (key: string) => [...github.checkRuns.values()].find((r) => r.external_id === key);
  const summaryOf = (key: string) => String((checkRun(key)?.output as { summary?: string } | undefined)?.summary ?? "");
  const clickDeploy = (key: string) => {
    const p = examplePayload("check_run", "rerequested");
    Object.assign(p, { action: "requested_action", requested_action: { identifier: "deploy" } });
    Object.assign(p.check_run, { name: "cicd/svc", external_id: key, id: checkRun(key)!.id });
    p.sender.login = "octocat";
    return sendWebhook(server.url, "check_run", p, WEBHOOK_SECRET);
  };

  it("marks the failing newest build bad on its check run, and Deploy moves the runner to an older build", async () => {
    const a = await build('echo "serving A"; exec sleep 600');
    const b = await build('echo "serving B"; exec sleep 600');
    await waitForValue(() => checkRun(b.key)?.status, (s) => s === "completed", { what: "B's check run to complete", timeout: 90_000, interval: 200 });
    expect(checkRun(b.key)!.actions).toEqual([expect.objectContaining({ identifier: "rebuild" }), expect.objectContaining({ identifier: "deploy" })]);

    const first = await server.runners.create("svc");
    await waitForValue(() => server.runners.get(first.id), (r) => r.build === b.key, { what: "the runner to run B", timeout: 90_000, interval: 200 });

    // C builds fine but fails at run time: the runner switches to it, marks it bad, falls back to B.
    const c = await build('echo "broken C"; exit 3');
    const doc = await waitForValue(() => server.manager.servicefs.builds("svc").read(), (d) => d.builds.find((x) => x.key === c.key)?.status === "bad", { what: "C to be marked bad", timeout: 90_000, interval: 200 });
    expect(doc.builds.find((x) => x.key === c.key)).toMatchObject({ exitCode: 3, markedBadAt: expect.any(String) });
    await waitForValue(() => server.runners.get(first.id), (r) => r.build === b.key && r.tried.includes(c.key), { what: "the runner to fall back to B", timeout: 90_000, interval: 200 });
    await waitForValue(() => summaryOf(c.key), (s) => s.includes("Marked bad by the runner"), { what: "C's check run to say it was marked bad", timeout: 90_000, interval: 200 });
    expect(summaryOf(c.key)).toContain("(exit code 3; exited with code 3");
    expect(checkRun(c.key)).toMatchObject({ status: "completed", conclusion: "success" });
    expect((checkRun(c.key)!.output as { title: string }).title).toMatch(/^Marked bad by the runner · #\d+ · Build succeeded/);
    expect(checkRun(c.key)!.actions).toEqual([expect.objectContaining({ identifier: "rebuild" })]);

    // Deploy A from its check run: B's runner is replaced by one pinned to A, although B is newer.
    expect((await clickDeploy(a.key)).status).toBe(200);
    await waitForValue(() => summaryOf(a.key), (s) => s.includes("by @octocat: ✅"), { what: "A's check run to report the deploy", timeout: 60_000, interval: 200 });
    const runners = await server.runners.list("svc");
    const running = runners.filter((r) => r.running);
    expect(running).toHaveLength(1);
    expect(summaryOf(a.key)).toContain(`runner ${running[0]!.id} now runs this build (replacing runner ${first.id}).`);
    expect(runners.find((r) => r.id === first.id)).toMatchObject({ state: "stopped", running: false });
    const moved = await waitForValue(() => server.runners.get(running[0]!.id), (r) => r.build === a.key, { what: "the new runner to run A", timeout: 90_000, interval: 200 });
    expect(moved.pinned).toBe(a.key);

    // Deploying the bad build fails with the reason, on its check run; the runner stays on A.
    expect((await clickDeploy(c.key)).status).toBe(200);
    await waitForValue(() => summaryOf(c.key), (s) => s.includes("by @octocat: ❌"), { what: "C's check run to report the refused deploy", timeout: 30_000, interval: 200 });
    expect(summaryOf(c.key)).toContain(`failed: Build ${c.key} of target "svc" is marked bad`);
    expect((await server.runners.get(running[0]!.id)).build).toBe(a.key);

    // The same over REST: a deploy names a good build of the target, or gets a clear 422 / 400.
    const unknown = await server.api("/api/v1/targets/svc/runners", { method: "POST", json: { build: "no-such-build" } });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as { error: string }).error).toContain("Build no-such-build is not in the builds of target \"svc\"");
    const malformed = await server.api("/api/v1/targets/svc/runners", { method: "POST", json: { build: 5 } });
    expect(malformed.status).toBe(400);
    expect((await server.runners.list("svc")).filter((r) => r.running).map((r) => r.id)).toEqual([running[0]!.id]);
    expect(server.logLines.join("\n")).not.toContain(github.token);
  }, 600_000);
});
