import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CicdClient, type RunnerView } from "../../src/client/index.js";
import { DockerExecutor } from "../../src/executor/index.js";
import { ServiceFs } from "../../src/servicefs/index.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage, projectRoot } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { waitForValue } from "../helpers/wait-for.js";

const hasDocker = await requireDocker();


describe.skipIf(!hasDocker)("runners started by the manager (real Docker)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-runners-"));
  const config = testConfig(
    {
      host: "0.0.0.0",
      targets: [
        { name: "svc", url: "files:///unused", commands: ["true"], artifacts: ["x"], run: { command: "sh {file}" } },
        { name: "hello", url: `files://${path.join(projectRoot, "examples/hello")}`, commands: ["sh build.sh"], artifacts: ["dist/*.mjs"], run: { command: "node {file}", autoDeploy: true } },
      ],
    },
    dir,
  );
  let server: TestServer;
  let client: CicdClient;
  const start = async () => {
    server = await startTestServer(config, { executor: new DockerExecutor({ logger: memoryLogger(), instance: "runners-test" }) });
    client = new CicdClient({ baseUrl: server.url, token: server.apiToken });
  };
  beforeAll(async () => {
    await Promise.all([ensureImage("runner"), ensureImage("builder")]);
    await start();
  });
  afterAll(async () => {
    for (const r of (await client?.listRunners().catch(() => [])) ?? []) if (r.running) await client.deleteRunner(r.id).catch(() => undefined);
    await server?.close(0);
  });

  it("runs the newest good build, falls back when it fails, survives a manager restart, and stops on DELETE", async () => {
    const sfs = new ServiceFs(config.servicefs);
    const work = mkdtempSync(path.join(tmpdir(), "cicd-artifacts-"));
    const write = (name: string, body: string) => (writeFileSync(path.join(work, name), `#!/bin/sh\n${body}\n`), path.join(work, name));
    const good = await sfs.publish("svc", { key: "older-good", commit: null, ref: null, files: [write("svc.sh", "echo serving; exec sleep 300")] });
    await sfs.publish("svc", { key: "newest-broken", commit: null, ref: null, files: [write("svc.sh", "echo broken; exit 3")] });

    const created = await client.createRunner("svc");
    expect(created).toMatchObject({ target: "svc", state: "running", running: true });
    const view = await waitForValue(() => client.getRunner(created.id), (r: RunnerView) => r.build === good.key, { what: "the runner to fall back to the older good build", timeout: 60_000, interval: 200 });
    expect(view.build).toBe("older-good");
    expect(view.tried).toEqual(["newest-broken"]);
    expect(view.decisions.map((d) => d.kind)).toEqual(expect.arrayContaining(["start", "mark-bad", "fall-back"]));
    const doc = await sfs.builds("svc").read();
    expect(doc.builds.find((b) => b.key === "newest-broken")).toMatchObject({ status: "bad", exitCode: 3 });
    // Why it was marked bad, in the program's own words; and its whole output, served.
    expect(view.decisions.find((d) => d.kind === "mark-bad")?.message).toMatch(/marked newest-broken bad: .* — broken$/);
    const output = await (await server.api(`/api/v1/runners/${created.id}/log`)).text();
    expect(output).toMatch(/starting newest-broken ---\nbroken\n/);
    expect(output).toMatch(/starting older-good ---\nserving\n/);

    // The manager restarts; the runner container keeps running and is found again.
    await server.close(0);
    await start();
    const again = await client.getRunner(created.id);
    expect(again).toMatchObject({ running: true, build: "older-good" });
    expect((await client.listRunners("svc")).map((r) => r.id)).toEqual([created.id]);

    const stopped = await client.deleteRunner(created.id);
    expect(stopped).toMatchObject({ state: "stopped", running: false });
  });

  it("moves a target with autoDeploy to its runner after a good build", async () => {
    const build = await client.triggerBuild("hello");
    const done = await client.waitForBuild(build.key, { intervalMs: 200, timeoutMs: 120_000 });
    expect(done.status).toBe("succeeded");
    const runners = await waitForValue(() => client.listRunners("hello"), (list) => list.some((r) => r.build === build.key), { what: "a runner to run the new build", timeout: 60_000, interval: 200 });
    expect(runners.find((r) => r.running)?.build).toBe(build.key);
  });
});
