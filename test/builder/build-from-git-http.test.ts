import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRepo, tempDir, type TestRepo } from "../helpers/git-repos.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { createBench, jarScript, type Bench } from "./harness.js";

const TOKEN = "ghs_TestToken0123456789abcdef";

describe("builds from a private repository over git smart HTTP", () => {
  let bench: Bench;
  let root: { dir: string; cleanup(): Promise<void> };
  let repo: TestRepo;
  let server: GitHttpServer;
  let oldServer: GitHttpServer;
  let first: string;
  let second: string;

  beforeAll(async () => {
    bench = await createBench();
    root = await tempDir("cicd-git-root-");
    repo = await createRepo({ name: "private.git", root: root.dir });
    first = await repo.commit({ "build.sh": jarScript("one") }, "one");
    second = await repo.commit({ "build.sh": jarScript("two") }, "two");
    server = await startGitHttpServer({ root: root.dir, token: TOKEN });
    oldServer = await startGitHttpServer({ root: root.dir, token: TOKEN, protocolV0: true });
  });
  afterAll(async () => {
    await server.close();
    await oldServer.close();
    await root.cleanup();
    await bench.cleanup();
  });

  it("clones with the token, and the token is in no log, no URL and not in .git/config", async () => {
    const url = server.repoUrl("private.git");
    const result = await bench.build({
      url,
      token: TOKEN,
      commands: ["./build.sh", "cp .git/config dist/gitconfig.txt", "git remote -v"],
      artifacts: ["dist/*"],
    });
    expect(result.reason).toBeUndefined();
    expect(result.commit).toBe(second);
    const config = result.artifacts.find((a) => a.startsWith("gitconfig"))!;
    const stored = await readFile(path.join(bench.servicefs, "hello", config), "utf8");
    expect(stored).toContain(`url = ${url}`);
    expect(stored).not.toContain(TOKEN);
    expect(stored.toLowerCase()).not.toContain("authorization");
    for (const text of [result.log, result.console, JSON.stringify(await bench.builds())]) expect(text).not.toContain(TOKEN);
    // The server saw the token in a header only.
    expect(server.requests.some((r) => r.headers.authorization?.startsWith("Basic "))).toBe(true);
    expect(server.requests.every((r) => !r.url.includes(TOKEN))).toBe(true);
  });

  it("fails fast with a clear error when the private repository needs a token and none is set", async () => {
    const started = Date.now();
    const result = await bench.build({ url: server.repoUrl("private.git"), commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.error?.code).toBe("SOURCE_FETCH_FAILED");
    expect(result.reason).toContain("authentication required: the repository is private; set the target's token");
    expect(await bench.leftovers()).toEqual([]);
  });

  it("says the token was refused when it is wrong, without printing it", async () => {
    const wrong = "ghs_WrongToken9876543210";
    const result = await bench.build({ url: server.repoUrl("private.git"), token: wrong, commands: ["true"], artifacts: ["*"] });
    expect(result.reason).toContain("authentication failed");
    for (const text of [result.reason!, result.error!.message, result.log]) expect(text).not.toContain(wrong);
  });

  it("takes credentials out of an https URL so they never reach .git/config or a log", async () => {
    const withCredentials = server.repoUrl("private.git").replace("http://", `http://x-access-token:${TOKEN}@`);
    const result = await bench.build({ url: withCredentials, commands: ["./build.sh", "cp .git/config dist/gitconfig"], artifacts: ["dist/*"] });
    expect(result.ok).toBe(true);
    const stored = await readFile(path.join(bench.servicefs, "hello", result.artifacts.find((a) => a.startsWith("gitconfig"))!), "utf8");
    expect(stored).not.toContain(TOKEN);
    expect(result.log).not.toContain(TOKEN);
  });

  it("falls back to a full fetch when the server refuses a commit by sha", async () => {
    const result = await bench.build({ url: oldServer.repoUrl("private.git"), token: TOKEN, sha: first, commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(result.reason).toBeUndefined();
    expect(result.commit).toBe(first);
    expect(result.log).toContain("refused a shallow fetch");
    expect(await readFile(path.join(bench.servicefs, "hello", result.artifacts[0]!), "utf8")).toBe("one");
  });
});
