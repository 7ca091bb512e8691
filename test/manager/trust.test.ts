import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import type { Build } from "../../src/manager/types.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(targets: Record<string, unknown>[], extra: Record<string, unknown> = {}, executor = new FakeExecutor()) {
  const server = await startTestServer(testConfig({ targets, ...extra }), { executor });
  servers.push(server);
  return { server, executor };
}
const target = (name: string, commands: string[], more: Record<string, unknown> = {}) => ({ name, url: "files:///nowhere", commands, artifacts: ["artifact.txt"], ...more });
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
const builds = async (server: TestServer, name: string) => ((await (await server.api(`/api/v1/targets/${name}/artifacts`)).json()) as { builds: { key: string }[] }).builds;

describe("what a build can and cannot make the manager believe", () => {
  it("keeps a same-repository pull request's build by key and never in builds.json", async () => {
    const { server } = await start([target("hello", ["echo ok"])]);
    const { build } = await server.manager.trigger({ target: "hello", trigger: "pull_request", ref: "refs/pull/3/head", sha: "d".repeat(40), pullRequest: 3 });
    const done = await server.manager.waitFor(build.key, finished, 10_000);
    expect(done.status).toBe("succeeded");
    expect(await builds(server, "hello")).toEqual([]);
    const list = (await (await server.api(`/api/v1/builds/${build.key}/artifacts`)).json()) as { artifacts: { name: string }[] };
    expect(list.artifacts.map((a) => a.name)).toEqual(["artifact.txt"]);
    // A branch build of the same target is published as before.
    const branch = await server.manager.trigger({ target: "hello", trigger: "api", ref: "refs/heads/main" });
    await server.manager.waitFor(branch.build.key, finished, 10_000);
    expect((await builds(server, "hello")).map((b) => b.key)).toEqual([branch.build.key]);
    const byKey = (await (await server.api(`/api/v1/builds/${branch.build.key}/artifacts`)).json()) as { artifacts: { name: string }[] };
    expect(byKey.artifacts[0]!.name).toMatch(/^artifact-\d{8}T\d{9}Z\.txt$/);
  });

  it("does not take a success whose files never reached the manager", async () => {
    const { server } = await start([target("hello", ["forge"])]);
    const { build } = await server.manager.trigger({ target: "hello", trigger: "api" });
    const done = await server.manager.waitFor(build.key, finished, 10_000);
    expect(done.status).toBe("error");
    expect(done.reason).toContain("did not arrive whole");
    expect(done.artifacts).toEqual([]);
    expect(await builds(server, "hello")).toEqual([]);
  });

  it("refuses an upload that does not match its checksum, or comes with another builder's token", async () => {
    const { server, executor } = await start([target("hello", ["sleep 3000"])], { warmBuilders: false });
    const { build } = await server.manager.trigger({ target: "hello", trigger: "api" });
    await server.manager.waitFor(build.key, (b) => b.status === "running", 10_000);
    const spec = executor.started.find((s) => s.buildKey === build.key)!;
    const put = (token: string, body: string, sha: string) =>
      fetch(`${server.url}/internal/builders/${spec.id}/artifacts/0?name=app.jar`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "x-cicd-sha256": sha, "content-type": "application/octet-stream" },
        body,
      });
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    expect((await put("not-the-token", "jar!", sha("jar!"))).status).toBe(401);
    const wrong = await put(spec.env.CICD_MANAGER_TOKEN!, "jar!", sha("something else"));
    expect(wrong.status).toBe(422);
    expect(((await wrong.json()) as { error: string }).error).toContain("does not match its checksum");
    expect((await put(spec.env.CICD_MANAGER_TOKEN!, "jar!", sha("jar!"))).status).toBe(201);
    const hidden = await fetch(`${server.url}/internal/builders/${spec.id}/artifacts/1?name=.builds.json`, {
      method: "PUT",
      headers: { authorization: `Bearer ${spec.env.CICD_MANAGER_TOKEN}`, "x-cicd-sha256": sha("x") },
      body: "x",
    });
    expect(hidden.status).toBe(400);
    await server.manager.cancel(build.key);
  });

  it("refuses an untrusted build on an executor that does not isolate it, unless the config allows it", async () => {
    const executor = new FakeExecutor();
    executor.isolated = false;
    const { server } = await start([target("hello", ["echo ok"])], {}, executor);
    const { build } = await server.manager.trigger({ target: "hello", trigger: "pull_request", sha: "e".repeat(40), pullRequest: 9, untrusted: true });
    const done = await server.manager.waitFor(build.key, finished, 10_000);
    expect(done.status).toBe("cancelled");
    expect(done.reason).toContain("untrusted: allow");
    expect(done.meta.actionRequired).toEqual({ reason: done.reason });
    expect(executor.started.filter((s) => s.buildKey === build.key)).toEqual([]);

    const allowing = new FakeExecutor();
    allowing.isolated = false;
    const other = await start([target("hello", ["echo ok"])], { untrusted: "allow" }, allowing);
    const again = await other.server.manager.trigger({ target: "hello", trigger: "pull_request", sha: "e".repeat(40), pullRequest: 9, untrusted: true });
    expect((await other.server.manager.waitFor(again.build.key, finished, 10_000)).status).toBe("succeeded");
  });

  it("gives each target its own git mirror, and none to a build whose commands run as the builder", async () => {
    const url = "https://git.example.com/acme/app.git";
    const { server, executor } = await start([
      target("one", ["echo ok"], { url }),
      target("two", ["echo ok"], { url }),
      target("rooted", ["echo ok"], { url, user: "root" }),
    ], { warmBuilders: false });
    for (const name of ["one", "two", "rooted"]) await server.manager.waitFor((await server.manager.trigger({ target: name, trigger: "api" })).build.key, finished, 10_000);
    const mirrorOf = (name: string) => {
      const args = executor.started.find((s) => s.target === name)!.args;
      const at = args.indexOf("--git-mirror");
      return at < 0 ? undefined : args[at + 1];
    };
    expect(mirrorOf("one")).toBeDefined();
    expect(mirrorOf("two")).toBeDefined();
    expect(mirrorOf("one")).not.toBe(mirrorOf("two"));
    expect(path.basename(path.dirname(mirrorOf("one")!))).toBe("one");
    expect(existsSync(mirrorOf("one")!)).toBe(true);
    expect(mirrorOf("rooted")).toBeUndefined();
    expect(executor.started.find((s) => s.target === "rooted")!.args).not.toContain("--user");
    expect(executor.started.find((s) => s.target === "one")!.args.join(" ")).toContain("--user 1000:1000");
  });

  it("keeps a work tree only for `workspace: incremental` builds of the target's own repository, never for a fork's", async () => {
    const url = "https://git.example.com/acme/app.git";
    const { server, executor } = await start([
      target("kept", ["echo ok"], { url, workspace: "incremental" }),
      target("plain", ["echo ok"], { url }),
      target("local", ["echo ok"], { url: "file:///srv/app.git", workspace: "incremental" }),
    ], { warmBuilders: false });
    const run = async (name: string, more: Record<string, unknown> = {}) => {
      const { build } = await server.manager.trigger({ target: name, trigger: "api", ...more });
      await server.manager.waitFor(build.key, finished, 10_000);
      const spec = executor.started.find((s) => s.buildKey === build.key)!;
      const at = spec.args.indexOf("--keep-workspace");
      return { dir: at < 0 ? undefined : spec.args[at + 1], spec };
    };
    const kept = await run("kept");
    expect(kept.dir).toBeDefined();
    expect(path.basename(path.dirname(kept.dir!))).toBe("kept");
    expect(existsSync(kept.dir!)).toBe(true);
    expect(kept.spec.mounts).toContainEqual(expect.objectContaining({ host: kept.dir, container: kept.dir }));
    // The same folder for the target's next build; none for a fork's, another target's, or a file:// source.
    expect((await run("kept")).dir).toBe(kept.dir);
    const fork = await run("kept", { trigger: "pull_request", ref: "refs/pull/4/head", sha: "f".repeat(40), pullRequest: 4, untrusted: true });
    expect(fork.dir).toBeUndefined();
    expect(fork.spec.mounts.map((m) => m.host)).not.toContain(kept.dir);
    expect((await run("plain")).dir).toBeUndefined();
    expect((await run("local")).dir).toBeUndefined();

    // Host processes (executor local) of every target share one user: no kept tree there.
    const hostProcesses = new FakeExecutor();
    hostProcesses.isolated = false;
    const other = await start([target("kept", ["echo ok"], { url, workspace: "incremental" })], { warmBuilders: false }, hostProcesses);
    const { build } = await other.server.manager.trigger({ target: "kept", trigger: "api" });
    await other.server.manager.waitFor(build.key, finished, 10_000);
    expect(hostProcesses.started.find((s) => s.buildKey === build.key)!.args).not.toContain("--keep-workspace");
  });

  it("limits every builder by default and keeps only the capabilities the builder needs", async () => {
    const { server, executor } = await start([target("hello", ["echo ok"])], { warmBuilders: false });
    await server.manager.waitFor((await server.manager.trigger({ target: "hello", trigger: "api" })).build.key, finished, 10_000);
    const spec = executor.started[0]!;
    expect(spec.limits).toMatchObject({ memory: "2g", cpus: 2, pids: 1024 });
    expect([...spec.capabilities!].sort()).toEqual(["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]);
    expect(spec.args).not.toContain("--isolate-network");
  });
});
