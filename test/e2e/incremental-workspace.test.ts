import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { requireDocker } from "../helpers/docker.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { createRepo, tempDir, type TestRepo } from "../helpers/git-repos.js";
import { ensureImage } from "../helpers/images.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const hasDocker = await requireDocker();
const TOKEN = "incremental-git-token-0123456789";
const ended = (b: Build) => !["queued", "running"].includes(b.status);

/**
 * `workspace: incremental` as users run it: builder containers of the docker executor, the
 * source over git HTTP with a token, the commands as the unprivileged user. The second build
 * finds the first one's tree updated to its commit, with nothing the first build left in it.
 */
describe.skipIf(!hasDocker)("workspace: incremental in builder containers", () => {
  let git: GitHttpServer;
  let repo: TestRepo;
  let root: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;

  beforeAll(async () => {
    await ensureImage("builder");
    root = await tempDir("cicd-incremental-e2e-");
    repo = await createRepo({ name: "app.git", root: root.dir });
    const files: Record<string, string> = { ".gitignore": "dist/\n", "version.txt": "v1" };
    for (let i = 0; i < 300; i++) files[`src/f${i}.txt`] = `${i}\n`;
    await repo.commit(files, "v1");
    git = await startGitHttpServer({ root: root.dir, token: TOKEN, host: "0.0.0.0" });
    const url = `http://host.docker.internal:${new URL(git.origin).port}/app.git`;
    const commands = [
      "mkdir -p dist && cp version.txt dist/version.txt",
      "ls -A | tr '\\n' ' ' > dist/ls.txt",
      "git status --porcelain > dist/status.txt",
      "echo junk > left-behind.txt && echo changed > src/f1.txt",
    ];
    server = await startTestServer(
      testConfig({ host: "0.0.0.0", targets: [{ name: "app", url, token: TOKEN, commands, artifacts: ["dist/*"], workspace: "incremental" }] }),
      { executor: new DockerExecutor({ logger: memoryLogger(), instance: `incremental-e2e-${process.pid}` }) },
    );
  }, 600_000);
  afterAll(async () => {
    await server?.close(0);
    await git?.close();
    await root?.cleanup();
  }, 120_000);

  const build = async () => {
    const { build } = await server.manager.trigger({ target: "app", trigger: "api", ref: "main" });
    const done = await server.manager.waitFor(build.key, ended, 180_000);
    const log = readFileSync(server.manager.logPath(build.key), "utf8");
    expect(done.status, log).toBe("succeeded");
    const files = JSON.parse(readFileSync(path.join(server.config.servicefs, "app", "builds.json"), "utf8")) as { builds: { key: string; artifacts: string[] }[] };
    const read = (stem: string) => {
      const name = files.builds.find((b) => b.key === build.key)!.artifacts.find((a) => a.startsWith(stem))!;
      return readFileSync(path.join(server.config.servicefs, "app", name), "utf8").trim();
    };
    return { done, log, version: read("version"), ls: read("ls"), status: read("status") };
  };

  it("the next build updates the kept tree to its commit; nothing the last build wrote is left", async () => {
    const one = await build();
    expect(one.log).toContain("in a fresh kept work tree");
    const second = await repo.commit({ "version.txt": "v2" }, "v2");
    const two = await build();
    expect(two.log).toContain(`checked out ${second} in the kept work tree`);
    expect(two.done.commit).toBe(second);
    expect(two.version).toBe("v2");
    expect(two.ls.split(" ").filter(Boolean).sort()).toEqual([".git", ".gitignore", "dist", "src", "version.txt"]);
    expect(two.status).toBe("");
    expect(two.log).not.toContain(TOKEN);
  }, 400_000);
});
