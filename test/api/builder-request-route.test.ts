import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken, newToken } from "../../src/manager/builder-callbacks.js";
import type { BuildRequest } from "../../src/shared/protocol.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/**
 * A builder the manager cannot connect to (swarm) fetches its build request, secrets and all,
 * from `GET /internal/builders/:id/request`. Only with its own token: not with another
 * builder's, not with the API token, not with none.
 */
describe("GET /internal/builders/:id/request", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(testConfig({}), { executor: new FakeExecutor() });
  });
  afterAll(() => server.close(0));

  it("gives the offered request to its own builder only, once", async () => {
    const mine = newToken();
    const other = newToken();
    server.manager.callbacks.register("b-mine", hashToken(mine), "key-mine1");
    server.manager.callbacks.register("b-other", hashToken(other), "key-other1");
    const request: BuildRequest = { key: "key-mine1", target: "app", url: "https://example.com/app.git", commands: ["make"], artifacts: ["out/*"], env: { DEPLOY_KEY: "s3cr3t-value-123" } };
    const handed = server.manager.callbacks.offer("b-mine", request, new AbortController().signal);
    const fetchAs = (token: string | undefined) =>
      fetch(`${server.url}/internal/builders/b-mine/request`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

    for (const token of [undefined, other, server.apiToken, "x".repeat(32)]) {
      const refused = await fetchAs(token);
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toContain("s3cr3t-value-123");
    }
    const answer = await fetchAs(mine);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual(request);
    await handed;
    // Once its build is over the builder is forgotten: its token fetches nothing any more.
    server.manager.callbacks.unregister("b-mine");
    expect((await fetchAs(mine)).status).toBe(401);
  });
});
