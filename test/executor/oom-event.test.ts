import { execFile } from "node:child_process";
import { promisify } from "node:util";
import Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oomEventSeen } from "../../src/executor/docker/oom-event.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage } from "../helpers/images.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();

/**
 * The engine's own record of an OOM kill, read when a container's state does not say it (the
 * engine may record the exit before containerd's OOM event arrives). Real containers: one
 * killed by the kernel for its memory limit, one killed from outside.
 */
describe.skipIf(!hasDocker)("the engine's oom event", () => {
  const docker = new Dockerode();
  const made: string[] = [];
  let image = "";
  beforeAll(async () => {
    image = await ensureImage("builder");
  }, 600_000);
  afterAll(async () => {
    if (made.length) await run("docker", ["rm", "-f", ...made]).catch(() => undefined);
  });

  const started = async (args: string[]) => {
    const id = (await run("docker", ["run", "-d", "--label", "cicd.test=oom-event", ...args])).stdout.trim();
    made.push(id);
    return id;
  };
  const ended = async (id: string) => {
    await run("docker", ["wait", id]);
    const [state] = JSON.parse((await run("docker", ["inspect", id])).stdout) as { State: { ExitCode: number; StartedAt: string } }[];
    return state!.State;
  };

  it("is seen for a container the kernel killed for its memory limit", async () => {
    const id = await started(["-m", "48m", "--memory-swap", "48m", "--entrypoint", "node", image, "-e", "const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))"]);
    const state = await ended(id);
    expect(state.ExitCode).toBe(137);
    expect(await oomEventSeen(docker, id, state.StartedAt)).toBe(true);
  }, 120_000);

  it("is not seen for a container killed from outside, nor for a name the engine does not know", async () => {
    const id = await started(["-m", "48m", "--entrypoint", "sleep", image, "60"]);
    await run("docker", ["kill", id]);
    const state = await ended(id);
    expect(state.ExitCode).toBe(137);
    expect(await oomEventSeen(docker, id, state.StartedAt, 200)).toBe(false);
    expect(await oomEventSeen(docker, "no-such-container", undefined, 200)).toBe(false);
  }, 120_000);
});
