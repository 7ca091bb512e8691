import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage } from "../helpers/images.js";
import { makeTarget, publishScript, readBuilds, readMarker, statusOf, waitUntil, type Target } from "./helpers.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();

describe.skipIf(!hasDocker)("the runner image on Docker", () => {
  let image: string;
  let t: Target;
  const containers: string[] = [];

  beforeAll(async () => {
    image = await ensureImage("runner");
  }, 600_000);
  beforeEach(async () => {
    t = await makeTarget();
  });
  afterEach(async () => {
    for (const name of containers.splice(0)) await run("docker", ["rm", "-f", name]).catch(() => undefined);
    await t.cleanup();
  });

  /** `docker run` args for a runner container with the target folder and the markers mounted. */
  function runnerArgs(name: string, extra: string[] = []): string[] {
    containers.push(name);
    const user = `${process.getuid!()}:${process.getgid!()}`;
    return ["run", "--name", name, "--user", user, "-v", `${t.dir}:/srv/target`, "-v", `${t.markers}:/markers`, "-e", "MARKERS=/markers",
      image, "--dir", "/srv/target", "--command", "sh {file}", ...extra];
  }
  const name = () => `cicd-test-runner-${randomBytes(4).toString("hex")}`;

  it("falls back from a failing newest build, records it in the mounted builds.json and exits 0", async () => {
    await publishScript(t, "b1", 'echo "$CICD_BUILD_KEY ran" > "$MARKERS/b1"; exit 0');
    await publishScript(t, "b2", "exit 7");
    const { stderr } = await run("docker", runnerArgs(name()));
    const doc = await readBuilds(t);
    expect(statusOf(doc)).toEqual({ b1: "good", b2: "bad" });
    expect(doc.builds[1]).toMatchObject({ exitCode: 7, reason: expect.stringContaining("exited with code 7") });
    expect(await readMarker(t, "b1")).toBe("b1 ran\n");
    expect(stderr).toContain("marked b2 bad");
    expect(stderr).toContain("falling back to b1");
  }, 120_000);

  it("exits 1 and names the builds it tried when every build fails", async () => {
    await publishScript(t, "b1", "exit 2");
    await publishScript(t, "b2", "exit 3");
    const failure = await run("docker", runnerArgs(name())).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain("No good build left in /srv/target; tried b2, b1");
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "bad", b2: "bad" });
  }, 120_000);

  it("stops the build gracefully on docker stop and exits 0", async () => {
    await publishScript(t, "b1", `
trap 'echo stopped > "$MARKERS/term"; exit 0' TERM
echo up > "$MARKERS/up"
while true; do sleep 0.1; done`);
    const container = name();
    await run("docker", ["create", ...runnerArgs(container).slice(1)]);
    await run("docker", ["start", container]);
    await waitUntil(() => readMarker(t, "up"), "the build to start in the container", 60_000);
    await run("docker", ["stop", "-t", "20", container]);
    const { stdout } = await run("docker", ["inspect", container, "--format", "{{.State.ExitCode}}"]);
    expect(stdout.trim()).toBe("0");
    expect(await readMarker(t, "term")).toBe("stopped\n");
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good" });
  }, 120_000);
});
