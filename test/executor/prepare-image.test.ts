import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import { isCicdError } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();
const BUILDER = "cicd-test-prepare-builder:latest";
const RUNNER = "cicd-test-prepare-runner:latest";

const imageId = (tag: string) => run("docker", ["image", "inspect", tag, "--format", "{{.Id}}"]).then((r) => r.stdout.trim(), () => "");
const label = (tag: string) =>
  run("docker", ["image", "inspect", tag, "--format", '{{index .Config.Labels "cicd.bundle"}}']).then((r) => r.stdout.trim());
const runImage = (tag: string, ...args: string[]) => run("docker", ["run", "--rm", ...args, tag]).then((r) => r.stdout);

/** The scheme of test/helpers/images.ts, computed here on its own: bundle bytes, then Dockerfile bytes. */
function expectedHash(root: string, role: string): string {
  return createHash("sha256")
    .update(readFileSync(path.join(root, "docker/build/cicd.mjs")))
    .update(readFileSync(path.join(root, `docker/${role}.Dockerfile`)))
    .digest("hex")
    .slice(0, 16);
}

describe.skipIf(!hasDocker)("DockerExecutor.prepareImage", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "cicd-exec-prepare-"));
  mkdirSync(path.join(root, "docker/build"), { recursive: true });
  const bundle = (version: string) =>
    writeFileSync(path.join(root, "docker/build/cicd.mjs"), `console.log("bundle ${version}", process.argv.slice(2).join(" "));\n`);
  bundle("v1");
  // The whole context is copied, so the test sees exactly what was sent to the engine.
  writeFileSync(
    path.join(root, "docker/builder.Dockerfile"),
    'FROM node:20-bookworm-slim\nCOPY . /ctx/\nRUN cp /ctx/docker/build/cicd.mjs /cicd.mjs\nENTRYPOINT ["node", "/cicd.mjs"]\n',
  );
  writeFileSync(path.join(root, "secret.env"), "TOKEN=do-not-send\n");
  writeFileSync(path.join(root, ".dockerignore"), "*\n!docker/build/\n");
  // An executor trusts an image it found ready for a minute, and cicd is upgraded by a restart:
  // a fresh executor is a cicd process started after the change.
  const fresh = () => new DockerExecutor({ logger: memoryLogger(), projectRoot: root, images: { builder: BUILDER, runner: RUNNER } });
  const executor = fresh();

  afterAll(async () => {
    await run("docker", ["rmi", "-f", BUILDER, RUNNER]).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it("builds a missing built-in image from docker/, labelled with the bundle hash", async () => {
    await run("docker", ["rmi", "-f", BUILDER]).catch(() => undefined);
    const log = memoryLogger();
    await executor.prepareImage("cicd-test-prepare-builder", log);
    expect(await label(BUILDER)).toBe(expectedHash(root, "builder"));
    expect(log.lines.join("\n")).toMatch(/Building image cicd-test-prepare-builder/);
    expect(log.lines.join("\n")).toMatch(/Step 1\/\d+ : FROM node:20-bookworm-slim/);
    expect(await runImage(BUILDER)).toContain("bundle v1");
    // Only the Dockerfile and docker/build/ are sent: never other files of the project.
    const sent = await run("docker", ["run", "--rm", "--entrypoint", "find", BUILDER, "/ctx", "-type", "f"]);
    expect(sent.stdout.split("\n").filter(Boolean).sort()).toEqual(["/ctx/docker/build/cicd.mjs", "/ctx/docker/builder.Dockerfile"]);
  });

  it("leaves an up-to-date image alone", async () => {
    const before = await imageId(BUILDER);
    const log = memoryLogger();
    await fresh().prepareImage(BUILDER, log);
    expect(await imageId(BUILDER)).toBe(before);
    expect(log.lines.join("\n")).not.toMatch(/Building|Rebuilding/);
  });

  it("rebuilds once when the bundle changed, however many callers ask at once", async () => {
    const before = await imageId(BUILDER);
    bundle("v2");
    const log = memoryLogger();
    const upgraded = fresh();
    await Promise.all([upgraded.prepareImage(BUILDER, log), upgraded.prepareImage("cicd-test-prepare-builder", log), upgraded.prepareImage(BUILDER, log)]);
    expect(log.lines.filter((l) => l.includes("Rebuilding image"))).toHaveLength(1);
    expect(await imageId(BUILDER)).not.toBe(before);
    // The outdated image does not pile up.
    expect(await imageId(before)).toBe("");
    expect(await label(BUILDER)).toBe(expectedHash(root, "builder"));
    expect(await runImage(BUILDER)).toContain("bundle v2");
  });

  it("reports a failing build step clearly and creates no image", async () => {
    writeFileSync(path.join(root, "docker/runner.Dockerfile"), "FROM node:20-bookworm-slim\nRUN echo broken step && exit 7\n");
    const log = memoryLogger();
    const error: unknown = await executor.prepareImage(RUNNER, log).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/Building image cicd-test-prepare-runner:latest from docker\/runner.Dockerfile failed: .*non-zero code: 7/);
    expect(log.lines.join("\n")).toContain("broken step");
    expect(await imageId(RUNNER)).toBe("");
  });

  it("says what to do when the bundle is missing", async () => {
    unlinkSync(path.join(root, "docker/build/cicd.mjs"));
    try {
      await expect(fresh().prepareImage(BUILDER, memoryLogger())).rejects.toThrow(/docker\/build\/cicd.mjs is missing. Run `npm run build`/);
    } finally {
      bundle("v2");
    }
  });

  it("uses another image when present and fails clearly when it can be neither found nor pulled", async () => {
    const log = memoryLogger();
    await executor.prepareImage("node:20-bookworm-slim", log);
    expect(log.lines.join("\n")).not.toMatch(/Pulling/);

    const error: unknown = await executor.prepareImage("localhost:1/cicd-test-missing:latest", log).catch((e: unknown) => e);
    expect(isCicdError(error, "EXECUTOR_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/localhost:1\/cicd-test-missing:latest is not on this machine and pulling it failed: .*connection refused/);
  });
});
