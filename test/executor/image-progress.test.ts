import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it, vi } from "vitest";
import { connectEngine } from "../../src/executor/docker/engine.js";
import { ImagePreparer } from "../../src/executor/docker/image-preparer.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";

/**
 * Issue 15, point 2: the first build's image is said as it happens, in the build's log and the
 * server's (start, each step, the time it took); a second build that waits for it is told why.
 */

const run = promisify(execFile);
const hasDocker = await requireDocker();
const BUILDER = "cicd-test-image-progress-builder:latest";

describe.skipIf(!hasDocker)("building the builder image on first use", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "cicd-image-progress-"));
  mkdirSync(path.join(root, "docker/build"), { recursive: true });
  writeFileSync(path.join(root, "docker/build/cicd.mjs"), 'console.log("bundle");\n');
  writeFileSync(path.join(root, "docker/builder.Dockerfile"), 'FROM node:20-bookworm-slim\nCOPY docker/build/cicd.mjs /cicd.mjs\nRUN echo step-output-of-the-build\nENTRYPOINT ["node", "/cicd.mjs"]\n');
  afterAll(async () => {
    await run("docker", ["rmi", "-f", BUILDER]).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it("tells the build's log everything and the server's log the start, the steps and the time", async () => {
    await run("docker", ["rmi", "-f", BUILDER]).catch(() => undefined);
    const server = memoryLogger();
    const preparer = new ImagePreparer(connectEngine().docker, root, { builder: BUILDER, runner: "cicd-test-image-progress-runner" }, server);
    const first = memoryLogger();
    const second = memoryLogger();
    const building = preparer.prepare(BUILDER, first);
    // A second build asks once the first one's image build is under way.
    await vi.waitFor(() => expect(first.lines.join("\n")).toContain("Step 1/"), { timeout: 60_000, interval: 20 });
    await Promise.all([building, preparer.prepare(BUILDER, second)]);

    const build = first.lines.join("\n");
    expect(build).toMatch(/Building image cicd-test-image-progress-builder:latest on first use \(usually under a minute/);
    expect(build).toMatch(/Step 1\/\d+ : FROM node:20-bookworm-slim/);
    expect(build).toContain("step-output-of-the-build");
    expect(build).toMatch(/Built image cicd-test-image-progress-builder:latest in \d/);

    const said = server.lines.join("\n");
    expect(said).toMatch(/Building image cicd-test-image-progress-builder:latest on first use/);
    expect(said).toMatch(/cicd-test-image-progress-builder:latest: Step 3\/\d+ : RUN echo step-output-of-the-build/);
    expect(said).not.toMatch(/^.*INFO.*\] step-output-of-the-build/m); // the commands' output stays in the build's log
    expect(said).toMatch(/Built image cicd-test-image-progress-builder:latest in \d/);

    expect(second.lines.join("\n")).toMatch(/Waiting for image cicd-test-image-progress-builder:latest, being made for another build \(for \d/);
  });
});
