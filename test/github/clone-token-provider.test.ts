import nock from "nock";
import { describe, expect, it } from "vitest";
import { createCloneTokenProvider, repositoryOf } from "../../src/github/clone-token-provider.js";
import { createAppProbot } from "../../src/github/create-app-probot.js";
import { isCicdError } from "../../src/shared/errors.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { FakeBuildService } from "../fixtures/fake-build-service.js";
import { API, INSTALLATION_TOKEN, nockInstallationToken, testConfig, testSettings } from "../fixtures/github-app-fixture.js";
import { useNock } from "../fixtures/handler-harness.js";

useNock();

function setup(configExtra: Record<string, unknown> = {}) {
  const logger = memoryLogger();
  const probot = createAppProbot(testSettings, logger, { throttle: false });
  const config = testConfig(configExtra);
  const provider = createCloneTokenProvider({ config, settings: testSettings, appClient: () => probot.auth(), logger });
  return { provider, logger, service: new FakeBuildService() };
}

describe("clone tokens", () => {
  it("creates a fresh installation token limited to the target's repository, read-only, signed as the app", async () => {
    const t = setup();
    const { build } = await t.service.trigger({ target: "randscape", trigger: "push", repository: "github/hello-world", installationId: 1 });
    let request: { body: unknown; auth: string } | undefined;
    nock(API)
      .post("/app/installations/1/access_tokens", (body) => ((request = { body, auth: "" }), true))
      .reply(function () {
        request!.auth = String(this.req.headers.authorization);
        return [201, { token: INSTALLATION_TOKEN, expires_at: new Date(Date.now() + 3_600_000).toISOString() }];
      });
    await expect(t.provider(build)).resolves.toBe(INSTALLATION_TOKEN);
    expect(request!.body).toEqual({ repositories: ["hello-world"], permissions: { contents: "read" } });
    expect(request!.auth).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/i); // a JWT of the app, not a token
    expect(t.logger.lines.join("\n")).not.toContain(INSTALLATION_TOKEN);
  });

  it("finds the installation for builds triggered over REST", async () => {
    const t = setup();
    const { build } = await t.service.trigger({ target: "elsewhere", trigger: "api" });
    nock(API).get("/repos/acme/other/installation").reply(200, { id: 7 });
    nockInstallationToken(7);
    await expect(t.provider(build)).resolves.toBe(INSTALLATION_TOKEN);
  });

  it("gives no token to targets with their own token, non-GitHub URLs, untrusted builds or uninstalled repositories", async () => {
    const t = setup();
    const other = setup({
      targets: [
        { name: "own", url: "https://github.com/acme/own.git", token: "ghp_own", commands: ["make"], artifacts: ["x"] },
        { name: "local", url: "file:///srv/repo", commands: ["make"], artifacts: ["x"] },
        { name: "gitlab", url: "https://gitlab.com/acme/x.git", commands: ["make"], artifacts: ["x"] },
      ],
    });
    for (const target of ["own", "local", "gitlab"]) {
      const { build } = await other.service.trigger({ target, trigger: "api", installationId: 1 });
      await expect(other.provider(build)).resolves.toBeUndefined();
    }
    const untrusted = (await t.service.trigger({ target: "hello", trigger: "pull_request", installationId: 1, untrusted: true })).build;
    await expect(t.provider(untrusted)).resolves.toBeUndefined();
    nock(API).get("/repos/acme/other/installation").reply(404, { message: "Not Found" });
    const notInstalled = (await t.service.trigger({ target: "elsewhere", trigger: "api" })).build;
    await expect(t.provider(notInstalled)).resolves.toBeUndefined();
  });

  it("fails with SOURCE_FETCH_FAILED naming the URL when GitHub refuses", async () => {
    const t = setup();
    const { build } = await t.service.trigger({ target: "hello", trigger: "push", installationId: 1 });
    nock(API).post("/app/installations/1/access_tokens").reply(422, { message: "There is at least one repository that does not exist or is not accessible to the parent installation." });
    const error = await t.provider(build).catch((e: unknown) => e);
    expect(isCicdError(error, "SOURCE_FETCH_FAILED")).toBe(true);
    expect((error as Error).message).toContain("https://github.com/Codertocat/Hello-World.git");
    expect((error as Error).message).toContain("not accessible to the parent installation");
  });

  it("recognises repositories on github.com and on a GitHub Enterprise host", () => {
    const gh = { gitHost: "github.com", gitProtocol: "https" };
    expect(repositoryOf("https://github.com/acme/hello.git", gh)).toEqual({ owner: "acme", name: "hello" });
    expect(repositoryOf("https://GitHub.com/acme/hello", gh)).toEqual({ owner: "acme", name: "hello" });
    expect(repositoryOf("http://github.com/acme/hello.git", gh)).toBeUndefined();
    expect(repositoryOf("git@github.com:acme/hello.git", gh)).toBeUndefined();
    expect(repositoryOf("https://github.com/acme/hello/tree/main", gh)).toBeUndefined();
    const ghe = { gitHost: "127.0.0.1:8080", gitProtocol: "http" };
    expect(repositoryOf("http://127.0.0.1:8080/acme/hello.git", ghe)).toEqual({ owner: "acme", name: "hello" });
    expect(repositoryOf("https://github.com/acme/hello.git", ghe)).toBeUndefined();
  });
});
