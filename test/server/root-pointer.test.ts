import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/** Issue 15, point 6: `GET /` answers a JSON pointer to the API and its docs, not "Cannot GET /". */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(testConfig({ executor: "local" }), { executor: new FakeExecutor() });
});
afterAll(() => server?.close());

describe("GET /", () => {
  it("points at the API, its OpenAPI document and the health check, without a token", async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ name: "cicd", api: "/api/v1", openapi: "/api/v1/openapi.json", health: "/healthz" });
    const openapi = await fetch(`${server.url}/api/v1/openapi.json`);
    expect(openapi.status).toBe(200);
  });
});
