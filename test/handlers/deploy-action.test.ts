import nock from "nock";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load-config.js";
import type { DeployNote } from "../../src/github/deployment-notes.js";
import { errors } from "../../src/shared/errors.js";
import { FakeDeployments } from "../fixtures/fake-deployments.js";
import { API, INSTALLATION_TOKEN, nockInstallationToken } from "../fixtures/github-app-fixture.js";
import { handlerHarness, useNock } from "../fixtures/handler-harness.js";
import { examplePayload, type Payload } from "../fixtures/webhook-payloads.js";

useNock();

// The check_run example payloads come from github/hello-world; its target here can run builds.
const config = parseConfig(
  {
    targets: [
      { name: "randscape", repository: "github/hello-world", url: "https://github.com/github/hello-world.git", commands: ["make"], artifacts: ["out/*"], run: { command: "sh {file}" } },
      { name: "elsewhere", repository: "acme/other", url: "https://github.com/acme/other.git", commands: ["make"], artifacts: ["out/*"], run: { command: "sh {file}" } },
    ],
  },
  { file: "/tmp/cicd-test/cicd.yml", env: {} },
);

function deployClick(externalId: string, login = "octocat", name = "cicd/randscape"): Payload {
  const p = examplePayload("check_run", "rerequested");
  p.action = "requested_action";
  p.requested_action = { identifier: "deploy" };
  p.check_run.name = name;
  p.check_run.external_id = externalId;
  p.sender.login = login;
  return p;
}

const permission = (login: string, level: string) =>
  nock(API).get(`/repos/github/hello-world/collaborators/${login}/permission`).reply(200, { permission: level, user: { login } });

async function setup() {
  const deployments = new FakeDeployments();
  const refreshed: string[] = [];
  const h = await handlerHarness(config, { deployments, refreshCheckRun: (key) => refreshed.push(key) });
  const built = async (fields: { untrusted?: boolean; status?: "succeeded" | "failed" } = {}) => {
    const { build } = await h.service.trigger({ target: "randscape", ref: "refs/heads/master", sha: "d6fde92930d4715a2b49857d24b940956b26d2d3", trigger: "push", repository: "github/hello-world", installationId: 1, untrusted: fields.untrusted });
    return h.service.update(build.key, { status: fields.status ?? "succeeded" });
  };
  const notes = (key: string) => (h.service.get(key)!.meta.deploys ?? []) as DeployNote[];
  return { h, deployments, refreshed, built, notes };
}

describe("the Deploy button of a check run", () => {
  it("deploys the check run's build for a user with write access and notes the outcome on the check run", async () => {
    const t = await setup();
    const build = await t.built();
    t.deployments.answer = { id: "r-new", replaced: ["r-old"] };
    nockInstallationToken();
    permission("octocat", "write");
    await t.h.receive("check_run", deployClick(build.key));
    expect(t.deployments.deploys).toEqual([{ target: "randscape", key: build.key }]);
    expect(t.notes(build.key)).toEqual([{ at: expect.any(String), by: "octocat", ok: true, message: "runner r-new now runs this build (replacing runner r-old)." }]);
    expect(t.refreshed).toEqual([build.key]);
    // A deploy queues no build.
    expect(t.h.service.all()).toHaveLength(1);
    expect(t.h.logger.lines.join("\n")).not.toContain(INSTALLATION_TOKEN);
  });

  it("refuses users without write access, and says so on the check run", async () => {
    const t = await setup();
    const build = await t.built();
    nockInstallationToken();
    permission("stranger", "read");
    await t.h.receive("check_run", deployClick(build.key, "stranger"));
    nock(API).get("/repos/github/hello-world/collaborators/outsider/permission").reply(404, { message: "Not Found" });
    await t.h.receive("check_run", deployClick(build.key, "outsider"));
    expect(t.deployments.deploys).toEqual([]);
    expect(t.notes(build.key).map((n) => [n.by, n.ok, n.message])).toEqual([
      ["stranger", false, "refused: deploying needs write permission on github/hello-world."],
      ["outsider", false, "refused: deploying needs write permission on github/hello-world."],
    ]);
  });

  it("notes a failed deploy with the error (e.g. the build is no longer good)", async () => {
    const t = await setup();
    const build = await t.built();
    t.deployments.answer = errors.unprocessable(`Build ${build.key} of target "randscape" is marked bad (exited with code 3); only good builds can be deployed.`);
    nockInstallationToken();
    permission("octocat", "admin");
    await t.h.receive("check_run", deployClick(build.key));
    expect(t.notes(build.key)).toEqual([expect.objectContaining({ ok: false, message: expect.stringContaining("failed: Build ") })]);
    expect(t.notes(build.key)[0]!.message).toContain("is marked bad (exited with code 3)");
    expect(t.refreshed).toEqual([build.key]);

    // Server trouble is not spelled out on the (public) check run, only in the server's log.
    t.deployments.answer = errors.executorFailed("Cannot connect to the Docker daemon at unix:///var/run/docker.sock");
    permission("octocat", "admin");
    await t.h.receive("check_run", deployClick(build.key));
    expect(t.notes(build.key)[1]!.message).toBe("failed: the server could not start the runner; its log says why.");
    expect(t.h.logger.lines.some((l) => l.includes("Deploy from a check run failed") && l.includes("docker.sock"))).toBe(true);
  });

  it("never deploys a fork's untrusted build or a build that did not succeed", async () => {
    const t = await setup();
    const fork = await t.built({ untrusted: true });
    const failed = await t.built({ status: "failed" });
    nockInstallationToken();
    permission("octocat", "write");
    permission("octocat", "write");
    await t.h.receive("check_run", deployClick(fork.key));
    await t.h.receive("check_run", deployClick(failed.key));
    expect(t.deployments.deploys).toEqual([]);
    expect(t.notes(fork.key)[0]!.message).toMatch(/^refused: this build comes from a fork/);
    expect(t.notes(failed.key)[0]!.message).toBe("refused: only a successful build can be deployed (this one is failed).");
  });

  it("ignores clicks on check runs of unknown builds or of other apps' check runs, asking GitHub nothing", async () => {
    const t = await setup();
    const build = await t.built();
    await t.h.receive("check_run", deployClick("no-such-build"));
    await t.h.receive("check_run", deployClick(build.key, "octocat", "ci/other-app"));
    await t.h.receive("check_run", deployClick(build.key, "octocat", "cicd/elsewhere"));
    expect(t.deployments.deploys).toEqual([]);
    expect(t.notes(build.key)).toEqual([]);
    expect(t.h.logger.lines.some((l) => l.includes("whose build this server does not know"))).toBe(true);
  });

  it("without runners on the server says so instead of deploying", async () => {
    const h = await handlerHarness(config);
    const { build } = await h.service.trigger({ target: "randscape", sha: "d6fde92930d4715a2b49857d24b940956b26d2d3", trigger: "push", repository: "github/hello-world", installationId: 1 });
    h.service.update(build.key, { status: "succeeded" });
    nockInstallationToken();
    permission("octocat", "write");
    await h.receive("check_run", deployClick(build.key));
    expect((h.service.get(build.key)!.meta.deploys as DeployNote[])[0]!.message).toBe("this cicd server has no runners to deploy to.");
  });
});
