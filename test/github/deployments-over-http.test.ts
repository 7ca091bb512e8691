import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load-config.js";
import { BadBuildsWatcher } from "../../src/manager/bad-builds-watcher.js";
import { ServiceFs } from "../../src/servicefs/index.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { FakeDeployments } from "../fixtures/fake-deployments.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { WEBHOOK_SECRET, testEnv } from "../fixtures/github-app-fixture.js";
import { sendWebhook, startWebhookServer } from "../fixtures/webhook-server.js";
import { examplePayload } from "../fixtures/webhook-payloads.js";
import { waitUntil } from "../helpers/wait-for.js";

const sha = "d6fde92930d4715a2b49857d24b940956b26d2d3";


// No nock: the app talks real HTTP to a fake GitHub API on 127.0.0.1, and a real watcher reads builds.json.
describe("check runs of a target with a runner (mountGitHub over HTTP)", () => {
  let api: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  let work: string;
  beforeAll(async () => {
    api = await startFakeGitHubApi({ permissions: { octocat: "write", stranger: "read" } });
    work = await mkdtemp(path.join(tmpdir(), "cicd-gh-deploy-"));
  });
  afterAll(async () => {
    await api.close();
    await rm(work, { recursive: true, force: true });
  });

  it("offers Deploy, deploys on a click from a user with write access, and says when the runner marked the build bad", async () => {
    const config = parseConfig(
      { targets: [{ name: "randscape", repository: "github/hello-world", url: "https://github.com/github/hello-world.git", commands: ["make"], artifacts: ["out/*"], run: { command: "sh {file}" } }] },
      { file: path.join(work, "cicd.yml"), env: {} },
    );
    const deployments = new FakeDeployments();
    deployments.answer = { id: "runner-7", replaced: [] };
    const s = await startWebhookServer(config, { ...testEnv, GHE_HOST: api.host, GHE_PROTOCOL: "http" }, { deployments });
    const sfs = new ServiceFs(path.join(work, "servicefs"));
    const watcher = new BadBuildsWatcher({ service: s.service, servicefs: sfs, targets: ["randscape"], logger: memoryLogger(), pollMs: 100 });
    watcher.onMarkedBad((e) => deployments.emit(e));
    try {
      await watcher.start();
      const { build } = await s.service.trigger({ target: "randscape", ref: "refs/heads/master", sha, trigger: "push", repository: "github/hello-world", installationId: 1 });
      await s.github.idle();
      s.service.update(build.key, { status: "succeeded", commit: sha, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString() });
      await s.github.idle();
      const id = s.service.get(build.key)!.meta.checkRunId as number;
      expect(api.checkRuns.get(id)).toMatchObject({ status: "completed", conclusion: "success", actions: [expect.objectContaining({ identifier: "rebuild" }), expect.objectContaining({ identifier: "deploy", label: "Deploy" })] });

      // A click from someone who may only read: refused, said on the check run.
      const click = (login: string) => {
        const p = examplePayload("check_run", "rerequested");
        Object.assign(p, { action: "requested_action", requested_action: { identifier: "deploy" } });
        Object.assign(p.check_run, { name: "cicd/randscape", external_id: build.key, id });
        p.sender.login = login;
        return sendWebhook(s.url, "check_run", p, WEBHOOK_SECRET);
      };
      expect((await click("stranger")).status).toBe(200);
      await s.github.idle();
      expect(deployments.deploys).toEqual([]);
      expect(String((api.checkRuns.get(id)!.output as { summary: string }).summary)).toContain("by @stranger: ❌ refused: deploying needs write permission on github/hello-world.");

      expect((await click("octocat")).status).toBe(200);
      await s.github.idle();
      expect(deployments.deploys).toEqual([{ target: "randscape", key: build.key }]);
      let output = api.checkRuns.get(id)!.output as { title: string; summary: string };
      expect(output.summary).toContain("by @octocat: ✅ runner runner-7 now runs this build.");
      expect(api.checkRuns.get(id)).toMatchObject({ status: "completed", conclusion: "success" });

      // The runner runs the build, it fails, the runner marks it bad in builds.json.
      const file = path.join(work, "app.sh");
      await writeFile(file, "exit 3\n");
      await sfs.publish("randscape", { key: build.key, commit: sha, ref: "refs/heads/master", files: [file] });
      api.failNext(1, 503, /PATCH .*check-runs/); // GitHub has a bad moment: the update is retried
      await sfs.builds("randscape").markBad(build.key, { exitCode: 3, signal: null, reason: "exited with code 3 after 0.1 s" });
      await waitUntil(() => String((api.checkRuns.get(id)!.output as { summary: string }).summary).includes("Marked bad by the runner"), { timeout: 10_000, interval: 25 });
      await s.github.idle();
      output = api.checkRuns.get(id)!.output as { title: string; summary: string };
      expect(output.title).toMatch(/^Marked bad by the runner · Build succeeded/);
      expect(output.summary).toMatch(/⛔ \*\*Marked bad by the runner\*\* at \d{4}-\d\d-\d\dT[\d:.]+Z \(exit code 3; exited with code 3 after 0\.1 s\)/);
      // The earlier deploy notes stay; the Deploy button goes.
      expect(output.summary).toContain("by @octocat: ✅");
      expect(api.checkRuns.get(id)!.actions).toEqual([expect.objectContaining({ identifier: "rebuild" })]);
      // Summary-only updates (no status) never carry annotations: GitHub would list them twice.
      const notesOnly = api.requests.filter((r) => r.method === "PATCH" && r.path.endsWith(`/check-runs/${id}`) && r.body?.status === undefined);
      expect(notesOnly.length).toBeGreaterThanOrEqual(4); // refused, deployed, marked bad (503), marked bad again
      expect(notesOnly.filter((r) => "annotations" in (r.body!.output as object))).toEqual([]);
      expect(s.logger.lines.join("\n")).not.toContain(api.token);
    } finally {
      watcher.close();
      await s.close();
    }
  });
});
