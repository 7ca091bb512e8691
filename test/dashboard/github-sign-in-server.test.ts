import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { testPrivateKey, WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/** The real server offers "Sign in with GitHub" once the app and its OAuth client are set. */
describe("GitHub sign-in on the server", () => {
  let github: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  let server: TestServer;
  beforeAll(async () => {
    github = await startFakeGitHubApi();
    server = await startTestServer(testConfig({ targets: [] }), {
      executor: new FakeExecutor(),
      env: { APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http", GITHUB_CLIENT_ID: "Iv1.client", GITHUB_CLIENT_SECRET: "client-secret-0123456789" },
    });
  });
  afterAll(async () => {
    await server?.close(0);
    await github?.close();
  });

  it("shows the button and sends the browser to GitHub's authorize page with this server's callback", async () => {
    expect(await (await fetch(`${server.url}/login`)).text()).toContain("Sign in with GitHub");
    const go = await fetch(`${server.url}/login/github`, { redirect: "manual" });
    expect([302, 303]).toContain(go.status);
    const to = new URL(go.headers.get("location")!);
    expect(`${to.origin}${to.pathname}`).toBe(`http://${github.host}/login/oauth/authorize`);
    expect(to.searchParams.get("client_id")).toBe("Iv1.client");
    expect(to.searchParams.get("redirect_uri")).toBe(`${server.url}/login/github/callback`);
    expect(to.searchParams.get("state")).toMatch(/.{16,}/);
  });
});
