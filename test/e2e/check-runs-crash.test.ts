import { createHmac, randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CicdClient } from "../../src/client/index.js";
import { conclusionOf } from "../../src/github/check-run-state.js";
import type { Build } from "../../src/manager/types.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { testPrivateKey, WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { pushPayload } from "../fixtures/webhook-payloads.js";
import { testTarget, writeConfigFile } from "../helpers/config-file.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage, projectRoot } from "../helpers/images.js";
import { freePort } from "../helpers/free-port.js";
import { spawnServer, type ServerProcess } from "../helpers/server-process.js";
import { waitForValue } from "../helpers/wait-for.js";

// Issue 10, point 14: check runs survive `kill -9`. Real server processes, real builds on the
// Docker engine, GitHub's API a fake on 127.0.0.1 (with Octokit's production pacing: writes
// one a second), signed pushes from GitHub's own example payload.

const hasDocker = await requireDocker();
const started: ServerProcess[] = [];
afterAll(() => {
  for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
});

const PUSHES = 20;
const final = (b: Build) => !["queued", "running"].includes(b.status);


describe.skipIf(!hasDocker)("check runs across three kill -9 of the server", () => {
  it("gives every pushed commit exactly one check run, completed with its build's conclusion", async () => {
    await ensureImage("builder");
    const github = await startFakeGitHubApi();
    try {
      const port = await freePort();
      const { file: config } = writeConfigFile(
        {
          port,
          concurrency: 2,
          // Each of the three kills may interrupt the same build: with the default 3 attempts it
          // would then end `error`, by design (tested elsewhere); this test is about check runs.
          maxAttempts: 5,
          publicUrl: "http://ci.example.test",
          targets: [
            testTarget("hello", {
              repository: "Codertocat/Hello-World",
              url: `files://${path.join(projectRoot, "examples/hello")}`,
              branches: ["master"],
              commands: ["sh build.sh"],
              artifacts: ["dist/*.mjs"],
              // Every pushed commit is to build: this test is about check runs across crashes.
              supersede: false,
            }),
          ],
        },
        { prefix: "cicd-check-crash-" },
      );
      const env: NodeJS.ProcessEnv = {
        CICD_API_TOKEN: "check-runs-crash-test-token",
        APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http",
      };
      const client = new CicdClient({ baseUrl: `http://127.0.0.1:${port}`, token: env.CICD_API_TOKEN! });
      const start = async () => {
        const server = await spawnServer(config, env);
        started.push(server);
        return server;
      };
      const kill = async (server: ServerProcess) => {
        server.child.kill("SIGKILL");
        await server.exited;
      };
      const builds = () => client.listBuilds({ target: "hello", limit: 100 });
      const posts = () => github.requests.filter((r) => r.method === "POST" && r.path.endsWith("/check-runs"));

      // Kill 1: the pushes are queued and a check run is being created: GitHub makes it, but
      // the answer with its id never reaches the server.
      let server = await start();
      github.inject(1, { hang: true, afterWork: true }, /^POST .*\/check-runs$/);
      const shas: string[] = [];
      for (let i = 0; i < PUSHES; i++) {
        const payload = pushPayload("refs/heads/master");
        payload.after = randomBytes(20).toString("hex");
        payload.head_commit = { ...payload.head_commit, id: payload.after };
        shas.push(payload.after);
        const body = JSON.stringify(payload);
        const res = await fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
          method: "POST",
          headers: {
            "content-type": "application/json", "x-github-event": "push", "x-github-delivery": `crash-${i}`,
            "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
          },
          body,
        });
        expect(res.status).toBe(200);
      }
      await waitForValue(() => posts().length >= 1, Boolean, { what: "the first check run to be created", timeout: 30_000 });
      await kill(server);

      // Kill 2: while builds run and their check runs are on their way.
      server = await start();
      const postsBefore = posts().length;
      await waitForValue(async () => (await builds()).some((b) => b.status !== "queued") && posts().length >= postsBefore + 2, Boolean, { what: "builds running and check runs moving", timeout: 60_000 });
      await kill(server);

      // Kill 3: once every build has ended, with (as a rule) check runs still behind.
      server = await start();
      await waitForValue(async () => (await builds()).length === PUSHES && (await builds()).every(final), Boolean, { what: "every build to end", timeout: 120_000 });
      const behind = (await builds()).filter((b) => github.checkRunsOf(b.key).at(-1)?.status !== "completed").length;
      await kill(server);

      // The last start has nothing to build, only check runs to catch up on.
      server = await start();
      const done = await builds();
      expect(done).toHaveLength(PUSHES);
      await waitForValue(() => done.every((b) => github.checkRunsOf(b.key).length === 1 && github.checkRunsOf(b.key)[0]!.status === "completed"), Boolean, { what: "every check run to be completed", timeout: 60_000 });
      for (const build of done) {
        const runs = github.checkRunsOf(build.key);
        expect(runs, `check runs of build ${build.key}`).toHaveLength(1);
        expect(runs[0]).toMatchObject({ name: "cicd/hello", head_sha: build.sha, status: "completed", conclusion: conclusionOf(build) });
      }
      // No commit lacks its check run.
      expect(new Set(done.map((b) => b.sha))).toEqual(new Set(shas));
      expect(done.map((b) => b.status)).toEqual(done.map(() => "succeeded"));
      console.info(`check runs behind at the third kill: ${behind} of ${PUSHES}; GitHub requests in all: ${github.requests.length}`);
      expect(server.output()).toContain("up to date after a restart");
      expect(server.output()).not.toContain(github.token);
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    } finally {
      await github.close();
    }
  }, 240_000);
});
