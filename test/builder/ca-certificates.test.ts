import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { createRepo, tempDir } from "../helpers/git-repos.js";
import { makeTestCa, type TestCa } from "../helpers/test-ca.js";
import { createBench, type Bench } from "./harness.js";

/**
 * Behind a company's proxy or in front of its git server, TLS is signed by the company's own CA
 * and builds need its environment: a target's `caCertificates` and `env` reach the fetch and the
 * commands (git, curl, Node.js), and its plain settings are not masked as secrets are.
 */
describe("a target's CA certificates and environment", () => {
  let bench: Bench;
  let ca: TestCa;
  let git: GitHttpServer;
  let root: Awaited<ReturnType<typeof tempDir>>;
  let url = "";

  beforeAll(async () => {
    bench = await createBench();
    ca = await makeTestCa();
    root = await tempDir("cicd-ca-git-");
    const repo = await createRepo({ name: "hello.git", root: root.dir });
    await repo.commit({ "build.sh": "mkdir -p dist && echo built > dist/app.txt\n" });
    git = await startGitHttpServer({ root: root.dir, tls: { cert: ca.cert, key: ca.key } });
    url = git.repoUrl("hello.git");
  });
  afterAll(async () => {
    await git.close();
    await root.cleanup();
    ca.cleanup();
    await bench.cleanup();
  });

  it("without them, fetching from a server signed by an unknown CA fails and says why", async () => {
    const result = await bench.build({ url, ref: "main", commands: ["sh build.sh"], artifacts: ["dist/*"] });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/certificate/i);
  });

  it("with them, git fetches, and the commands' tools (Node.js here) trust the CA and see the environment, unmasked", async () => {
    const probe = `node -e "require('https').get('${url}/info/refs?service=git-upload-pack', (r) => console.log('node got', r.statusCode)).on('error', (e) => { console.log('node failed', e.code); process.exit(1); })"`;
    const result = await bench.build({
      url,
      ref: "main",
      caCertificates: ca.caPem,
      vars: { BUILD_FLAVOUR: "company-edition" },
      commands: ["sh build.sh", 'echo "flavour=$BUILD_FLAVOUR"', 'grep -c "BEGIN CERTIFICATE" "$GIT_SSL_CAINFO" > dist/count.txt', probe],
      artifacts: ["dist/*"],
    });
    expect(result.reason).toBeUndefined();
    expect(result.log).toContain("flavour=company-edition");
    expect(result.log).toContain("node got 200");
    // The bundle holds the system's CAs and the target's, so public servers keep working too.
    const count = readFileSync(path.join(bench.servicefs, "hello", result.artifacts.find((a) => a.includes("count"))!), "utf8");
    expect(Number(count)).toBeGreaterThan(1);
    expect(await bench.leftovers()).toEqual([]);
  });
});
