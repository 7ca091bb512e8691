import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import { dockerMessage, dockerStatus, ignoring } from "../../src/executor/docker/docker-errors.js";
import { EngineClient } from "../../src/executor/docker/engine-client.js";
import type { ContainerCreateOptions } from "../../src/executor/docker/engine-types.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();
const BASE = "node:20-bookworm-slim";
const runId = randomBytes(3).toString("hex");
const TEST_LABEL = `cicd.test-engine-client=${runId}`;

/** Writes "out ✓" to stdout and "err ✓" to stderr, in that order. */
const script = 'process.stdout.write("out \\u2713\\n"); setTimeout(() => process.stderr.write("err \\u2713\\n"), 50)';

describe.skipIf(!hasDocker)("EngineClient on the real engine", () => {
  const engine = new EngineClient();
  let seq = 0;
  const name = () => `cicd-test-engine-${runId}-${++seq}`;
  const create = (options: Omit<ContainerCreateOptions, "Image">) =>
    engine.createContainer({ Image: BASE, ...options, Labels: { ...options.Labels, "cicd.test-engine-client": runId } });

  afterAll(async () => {
    const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=${TEST_LABEL}`]);
    const left = stdout.split("\n").filter(Boolean);
    if (left.length) await run("docker", ["rm", "-f", ...left]);
  });

  it("reads stdout and stderr apart from a plain container", async () => {
    const { Id } = await create({ name: name(), Cmd: ["node", "-e", script] });
    await engine.startContainer(Id);
    expect(await engine.waitContainer(Id)).toMatchObject({ StatusCode: 0 });
    const pieces = [];
    for await (const piece of await engine.containerLogs(Id, { follow: true })) pieces.push(piece);
    expect(pieces).toEqual([
      { stream: "stdout", text: "out ✓\n" },
      { stream: "stderr", text: "err ✓\n" },
    ]);
    await engine.removeContainer(Id, { force: true, v: true });
  });

  it("reads a TTY container's raw stream, also when re-attached without knowing it has a TTY", async () => {
    const instance = `engine-client-${runId}`;
    const id = `tty${runId}`;
    const { Id } = await create({
      name: name(),
      Tty: true,
      Cmd: ["node", "-e", `setTimeout(() => { ${script} }, 1500)`],
      Labels: { "cicd.managed": "true", "cicd.instance": instance, "cicd.role": "builder", "cicd.id": id, "cicd.target": "t" },
    });
    await engine.startContainer(Id);
    const handle = await new DockerExecutor({ logger: memoryLogger(), instance, engine }).attach(id);
    let text = "";
    await handle!.output((chunk) => (text += chunk));
    // A TTY turns "\n" into "\r\n" and merges the streams; no frame headers show up.
    expect(text).toBe("out ✓\r\nerr ✓\r\n");
    expect(await handle!.wait()).toEqual({ exitCode: 0, oomKilled: false, signal: null });
    await handle!.destroy();
    expect(dockerStatus(await engine.inspectContainer(Id).catch((e: unknown) => e))).toBe(404);
  });

  it("reaches the engine while nock intercepts HTTP, as it does in the GitHub tests", async () => {
    const { default: nock } = await import("nock");
    if (!nock.isActive()) nock.activate();
    try {
      const github = nock("https://api.github.com").get("/zen").reply(200, "ok");
      expect((await engine.inspectImage(BASE)).Id).toMatch(/^sha256:/);
      expect(await new EngineClient().listContainers({ all: true, labels: [TEST_LABEL, "cicd.none=here"] })).toEqual([]);
      expect(github.isDone()).toBe(false);
    } finally {
      nock.cleanAll();
      nock.restore();
    }
  });

  it("passes on the engine's status and words: 404 for what is missing, 409 for a taken name", async () => {
    const missing: unknown = await engine.inspectContainer(`cicd-test-engine-missing-${runId}`).catch((e: unknown) => e);
    expect(dockerStatus(missing)).toBe(404);
    expect(dockerMessage(missing)).toBe(`No such container: cicd-test-engine-missing-${runId}`);
    expect(await ignoring([404], () => engine.removeContainer(`cicd-test-engine-missing-${runId}`, { force: true }))).toBeUndefined();
    expect(dockerStatus(await engine.inspectImage(`cicd-test-engine-missing-${runId}:1`).catch((e: unknown) => e))).toBe(404);

    const taken = name();
    const { Id } = await create({ name: taken, Cmd: ["true"] });
    const conflict: unknown = await create({ name: taken, Cmd: ["true"] }).catch((e: unknown) => e);
    expect(dockerStatus(conflict)).toBe(409);
    expect(dockerMessage(conflict)).toMatch(new RegExp(`^Conflict. The container name "/${taken}" is already in use`));
    // Listing by label finds it, stopped as it is, with its name.
    const listed = await engine.listContainers({ all: true, labels: [TEST_LABEL] });
    expect(listed.find((c) => c.Id === Id)).toMatchObject({ Names: [`/${taken}`], State: "created" });
    await engine.removeContainer(Id, { force: true });
  });
});
