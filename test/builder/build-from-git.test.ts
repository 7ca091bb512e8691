import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRepo, git, type TestRepo } from "../helpers/git-repos.js";
import { createBench, jarScript, type Bench } from "./harness.js";

const STAMP = /^app-1\.0-\d{8}T\d{9}Z\.jar$/;

describe("builds from local git repositories (file:// and files://)", () => {
  let bench: Bench;
  let repo: TestRepo;
  let first: string;
  let second: string;
  let feature: string;

  beforeAll(async () => {
    bench = await createBench();
    repo = await createRepo({ name: "hello.git" });
    first = await repo.commit({ "build.sh": jarScript("v1") }, "first");
    await repo.tag("v1.0", first);
    second = await repo.commit({ "build.sh": jarScript("v2") }, "second");
    feature = await repo.commit({ "build.sh": jarScript("feature") }, "feature work", "feature");
  });
  afterAll(async () => {
    await repo.cleanup();
    await bench.cleanup();
  });

  it("builds the default branch of a bare repository, publishes the jar and records the commit", async () => {
    const result = await bench.build({ url: `file://${repo.bare}`, commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(result.reason).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.commit).toBe(second);
    expect(result.artifacts).toHaveLength(1);
    expect(result.artifacts[0]).toMatch(STAMP);
    const published = path.join(bench.servicefs, "hello", result.artifacts[0]!);
    expect(await readFile(published, "utf8")).toBe("v2");

    const doc = await bench.builds();
    const record = doc.builds.find((b) => b.key === result.key)!;
    expect(record).toMatchObject({ status: "good", commit: second, ref: null, artifacts: result.artifacts });
    expect(record.durationMs).toBeGreaterThan(0);

    expect(result.log).toContain("$ ./build.sh");
    expect(result.console).toBe(result.log);
    expect(await bench.leftovers()).toEqual([]);
    await access(result.logFile!);
  });

  it("builds a branch, a tag and an older sha asked for, recording the exact commit", async () => {
    const onBranch = await bench.build({ url: `files://${repo.bare}`, ref: "feature", commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(onBranch.commit).toBe(feature);
    expect((await bench.builds()).builds.at(-1)).toMatchObject({ key: onBranch.key, ref: "feature", commit: feature });
    expect(await readFile(path.join(bench.servicefs, "hello", onBranch.artifacts[0]!), "utf8")).toBe("feature");

    const onTag = await bench.build({ url: `file://${repo.bare}`, ref: "v1.0", commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(onTag.commit).toBe(first);

    const bySha = await bench.build({ url: `file://${repo.bare}`, ref: "main", sha: first, commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(bySha.ok).toBe(true);
    expect(bySha.commit).toBe(first);
    expect(await readFile(path.join(bench.servicefs, "hello", bySha.artifacts[0]!), "utf8")).toBe("v1");
    expect((await bench.builds()).builds.at(-1)).toMatchObject({ key: bySha.key, ref: "main", commit: first });
  });

  it("clones a work tree (not bare) given as files:// and records its HEAD", async () => {
    const head = await git(repo.work, "rev-parse", "HEAD");
    const result = await bench.build({ url: `files://${repo.work}`, commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(result.ok).toBe(true);
    expect(result.commit).toBe(head);
  });

  it("fails with a clear error for a missing sha, ref or repository and publishes nothing", async () => {
    const before = (await bench.builds()).builds.length;
    const noSha = await bench.build({ url: `file://${repo.bare}`, sha: "0123456789abcdef0123456789abcdef01234567" });
    expect(noSha.error?.code).toBe("SOURCE_FETCH_FAILED");
    expect(noSha.reason).toContain("commit 0123456789abcdef0123456789abcdef01234567 was not found");
    const noRef = await bench.build({ url: `file://${repo.bare}`, ref: "no-such-branch" });
    expect(noRef.reason).toContain("the ref no-such-branch was not found");
    const noRepo = await bench.build({ url: `file://${path.join(repo.dir, "missing.git")}` });
    expect(noRepo.reason).toContain("no such file or folder");
    expect((await bench.builds()).builds.length).toBe(before);
    expect(await bench.leftovers()).toEqual([]);
  });

  it("stops at the first failing command, reports it with its exit code and publishes nothing", async () => {
    const before = await bench.files();
    const result = await bench.build({
      url: `file://${repo.bare}`,
      commands: ["./build.sh", "echo second; exit 3", "echo third-ran"],
      artifacts: ["dist/*.jar"],
    });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe("COMMAND_FAILED");
    expect(result.failedCommand).toBe(1);
    expect(result.exitCode).toBe(3);
    expect(result.reason).toBe("Command 2 failed (exit code 3): echo second; exit 3");
    expect(result.commands.map((c) => c.exitCode)).toEqual([0, 3]);
    expect(result.log).toContain("second\n");
    expect(result.log).not.toContain("third-ran");
    expect(result.log).toContain("failed (exit code 3)");
    expect(await bench.files()).toEqual(before);
    expect((await bench.builds()).builds.some((b) => b.key === result.key)).toBe(false);
  });

  it("fails when an artifact pattern matches nothing, even if another matched", async () => {
    const before = await bench.files();
    const result = await bench.build({ url: `file://${repo.bare}`, commands: ["./build.sh"], artifacts: ["dist/*.jar", "dist/*.war"] });
    expect(result.error?.code).toBe("ARTIFACT_NOT_FOUND");
    expect(result.reason).toContain('"dist/*.war" matched no file');
    expect(await bench.files()).toEqual(before);
  });

  it("refuses artifacts outside the workspace: a symlink out, `..` and absolute patterns", async () => {
    const before = await bench.files();
    const link = await bench.build({
      url: `file://${repo.bare}`,
      commands: ["mkdir -p dist && ln -s /etc/hostname dist/evil.jar"],
      artifacts: ["dist/*.jar"],
    });
    expect(link.error?.code).toBe("UNSAFE_PATH");
    expect(link.reason).toContain("outside the workspace");
    const up = await bench.build({ url: `file://${repo.bare}`, commands: ["./build.sh"], artifacts: ["../*.jar"] });
    expect(up.error?.code).toBe("UNSAFE_PATH");
    const absolute = await bench.build({ url: `file://${repo.bare}`, commands: ["./build.sh"], artifacts: ["/etc/host*"] });
    expect(absolute.error?.code).toBe("UNSAFE_PATH");
    expect(await bench.files()).toEqual(before);
  });

  it("hands secrets and CI variables to commands, masks secrets, and keeps the builder's env out", async () => {
    process.env.CICD_TEST_HOST_ONLY = "host-value";
    try {
      const result = await bench.build({
        url: `file://${repo.bare}`,
        env: { API_KEY: "s3cr3t-value-123" },
        commands: [
          "echo \"key=$API_KEY ci=$CI target=$CICD_TARGET build=$CICD_BUILD_KEY commit=$CICD_COMMIT host=${CICD_TEST_HOST_ONLY:-none}\"",
          // The secret leaves in two writes 300 ms apart: masked all the same.
          "printf '%s-' \"${API_KEY%%-*}\"; sleep 0.3; printf '%s\\n' \"${API_KEY#*-}\"",
          "./build.sh",
        ],
        artifacts: ["dist/*.jar"],
      });
      expect(result.ok).toBe(true);
      expect(result.log).toContain(`key=*** ci=true target=hello build=${result.key} commit=${second} host=none`);
      expect(result.log).not.toContain("s3cr3t");
      expect(result.console).not.toContain("s3cr3t");
      expect(result.log).toMatch(/\*\*\*\n/);
    } finally {
      delete process.env.CICD_TEST_HOST_ONLY;
    }
  });
});
