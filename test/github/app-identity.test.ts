import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicKey, createVerify } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { appIdentity } from "../../src/github/app-identity.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { testPrivateKey } from "../fixtures/github-app-fixture.js";

/** At start the server asks GitHub who its app is, rather than saying "connected" unasked. */
describe("the app's identity at start", () => {
  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it("names the app GitHub knows, asking with a JWT the app's key signed", async () => {
    const api = await startFakeGitHubApi();
    closers.push(() => api.close());
    const who = await appIdentity({ appId: 123, privateKey: testPrivateKey, baseUrl: `http://${api.host}` });
    expect(who).toEqual({ ok: true, id: 123, name: "cicd test", slug: "cicd-test" });
    const asked = api.requests.find((r) => r.method === "GET" && r.path === "/app")!;
    const [header, payload, signature] = String(asked.authorization).replace(/^Bearer /, "").split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as { iss: number; iat: number; exp: number };
    expect(claims.iss).toBe(123);
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(600);
    expect(createVerify("RSA-SHA256").update(`${header}.${payload}`).verify(createPublicKey(testPrivateKey), signature!, "base64url")).toBe(true);
  });

  it("says clearly why not: refused credentials, an unreachable GitHub, a key that cannot sign", async () => {
    const refusing = createServer((_req, res) => res.writeHead(401, { "content-type": "application/json" }).end('{"message":"A JSON web token could not be decoded"}'));
    await new Promise<void>((resolve) => refusing.listen(0, "127.0.0.1", resolve));
    closers.push(() => refusing.close());
    const refused = await appIdentity({ appId: 7, privateKey: testPrivateKey, baseUrl: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}` });
    expect(refused).toEqual({ ok: false, why: "GitHub refused the app's credentials (401: A JSON web token could not be decoded); check APP_ID and PRIVATE_KEY" });
    const gone = await appIdentity({ appId: 7, privateKey: testPrivateKey, baseUrl: "http://127.0.0.1:9" });
    expect(gone.ok).toBe(false);
    expect(!gone.ok && gone.why).toMatch(/^GitHub could not be reached at http:\/\/127\.0\.0\.1:9/);
    const badKey = await appIdentity({ appId: 7, privateKey: "not a key", baseUrl: "http://127.0.0.1:9" });
    expect(badKey).toEqual({ ok: false, why: "the private key could not sign a token (is PRIVATE_KEY a PEM RSA key?)" });
  });
});
