import { execFile } from "node:child_process";
import { chmod, chown, mkdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage } from "../helpers/images.js";
import { createRepo, tempDir, type TestRepo } from "../helpers/git-repos.js";
import type { BuildsDocument } from "../../src/servicefs/builds-file.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();

/** `docker run` of a builder container; resolves with its exit code and output (never rejects). */
async function docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("docker", args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe.skipIf(!hasDocker)("the builder image on the real Docker engine", () => {
  let image: string;
  let repo: TestRepo;
  let tmp: { dir: string; cleanup(): Promise<void> };
  const names: string[] = [];

  beforeAll(async () => {
    image = await ensureImage("builder");
    tmp = await tempDir("cicd-image-");
    await chmod(tmp.dir, 0o755);
    repo = await createRepo({
      name: "hello.git",
      files: { "build.sh": { content: "#!/bin/sh\nset -e\nmkdir -p dist\necho \"jar of $CICD_COMMIT by $(id -u)\" > dist/app-1.0.jar\n", mode: 0o755 } },
    });
    await chmod(repo.dir, 0o755);
  });
  afterAll(async () => {
    for (const name of names) await run("docker", ["rm", "-f", name]).catch(() => undefined);
    await repo?.cleanup();
    await tmp?.cleanup();
  });

  async function buildInContainer(servicefs: string, user?: string) {
    const name = `cicd-test-builder-${process.pid}-${names.length}`;
    names.push(name);
    return docker([
      "run", "--rm", "--name", name, "--network", "none", "--label", "cicd.role=builder", "--label", "cicd.target=hello",
      ...(user ? ["--user", user, "-e", "HOME=/workspace"] : []),
      "-v", `${repo.bare}:/src/hello.git:ro`, "-v", `${servicefs}:/servicefs`,
      image, "builder", "--url", "file:///src/hello.git", "--command", "./build.sh", "--artifact", "dist/*.jar",
      "--servicefs", "/servicefs", "--target", "hello", "--run-on-startup",
    ]);
  }

  async function published(servicefs: string) {
    const doc = JSON.parse(await readFile(path.join(servicefs, "hello", "builds.json"), "utf8")) as BuildsDocument;
    const build = doc.builds.at(-1)!;
    const file = path.join(servicefs, "hello", build.artifacts[0]!);
    return { doc, build, file, content: await readFile(file, "utf8"), info: await stat(file) };
  }

  it("builds a bare repository mounted read-only and publishes to the mounted service file system", async () => {
    const servicefs = path.join(tmp.dir, "servicefs-root");
    await mkdir(servicefs);
    const ran = await buildInContainer(servicefs);
    expect(ran.stderr).not.toContain("dubious ownership");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain("$ ./build.sh");
    const head = (await run("git", ["-C", repo.bare, "rev-parse", "HEAD"])).stdout.trim();
    const { doc, build, content, info } = await published(servicefs);
    expect(doc.builds).toHaveLength(1);
    expect(build).toMatchObject({ status: "good", commit: head });
    expect(build.artifacts[0]).toMatch(/^app-1\.0-\d{8}T\d{9}Z\.jar$/);
    expect(content).toBe(`jar of ${head} by 0\n`);
    // Readable by every user of the host, whoever runs the runner.
    expect(info.mode & 0o444).toBe(0o444);
    expect((await stat(path.join(servicefs, "hello", "builds.json"))).mode & 0o444).toBe(0o444);
  });

  it("runs as the servicefs folder's owner with --user, so the host owns what it publishes", async () => {
    const uid = process.getuid!() === 0 ? 4321 : process.getuid!();
    const gid = process.getuid!() === 0 ? 4321 : process.getgid!();
    const servicefs = path.join(tmp.dir, "servicefs-user");
    await mkdir(servicefs);
    if (process.getuid!() === 0) await chown(servicefs, uid, gid);
    const ran = await buildInContainer(servicefs, `${uid}:${gid}`);
    expect(ran.stderr + ran.stdout).not.toContain("dubious ownership");
    expect(ran.code).toBe(0);
    const { build, content, info } = await published(servicefs);
    expect(build.status).toBe("good");
    expect(content).toContain(`by ${uid}`);
    expect(info.uid).toBe(uid);
    expect(info.mode & 0o444).toBe(0o444);
  });

  it("fails the container with exit code 1 and publishes nothing when a command fails", async () => {
    const servicefs = path.join(tmp.dir, "servicefs-fail");
    await mkdir(servicefs);
    const name = `cicd-test-builder-${process.pid}-fail`;
    names.push(name);
    const ran = await docker([
      "run", "--rm", "--name", name, "--network", "none", "-v", `${repo.bare}:/src/hello.git:ro`, "-v", `${servicefs}:/servicefs`,
      image, "builder", "--url", "file:///src/hello.git", "--command", "./build.sh", "--command", "exit 5",
      "--artifact", "dist/*.jar", "--servicefs", "/servicefs", "--target", "hello", "--run-on-startup",
    ]);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toContain("Command 2 failed (exit code 5)");
    await expect(stat(path.join(servicefs, "hello", "builds.json"))).rejects.toThrow();
  });
});
