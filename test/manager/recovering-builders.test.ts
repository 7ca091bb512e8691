import { describe, expect, it } from "vitest";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { freePort } from "../helpers/free-port.js";
import { startTestServer, testConfig } from "../helpers/server.js";

/**
 * The server listens before it has recovered the builds of its last run, and a builder that
 * outlived a restart may call in that moment (a `kill -9` test caught one uploading its files
 * then: the 401 it got failed a good build). Until recovery ends, a builder the server does not
 * know yet gets 503, which builders retry; after it, 401, which they do not.
 */
class SlowRecovery extends FakeExecutor {
  open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  override async find() {
    await this.gate;
    return super.find();
  }
}

describe("builder callbacks while the server recovers", () => {
  it("answer 503 (try again) to an unknown builder until recovery ends, 401 after", async () => {
    const port = await freePort();
    const executor = new SlowRecovery();
    const starting = startTestServer(testConfig({ port, targets: [{ name: "hello", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }] }), { executor });
    const base = `http://127.0.0.1:${port}/internal/builders`;
    const headers = { authorization: "Bearer some-builder-token-0123456789", "content-type": "application/json" };
    const event = JSON.stringify({ type: "ready", builderId: "b-unknown", at: new Date().toISOString(), port: 8080, pid: 1 });
    const calls = () =>
      Promise.all([
        fetch(`${base}/events`, { method: "POST", headers, body: event }),
        fetch(`${base}/b-unknown/artifacts/0?name=a.txt`, { method: "PUT", headers: { ...headers, "x-cicd-sha256": "0".repeat(64) }, body: "data" }),
        fetch(`${base}/b-unknown/request`, { headers }),
      ]);

    // Listening, recovery held: every callback of an unknown builder is told to try again.
    let during: Response[] | undefined;
    await expect.poll(async () => (during = await calls().catch(() => undefined)) !== undefined, { timeout: 30_000, interval: 50 }).toBe(true);
    expect(during!.map((r) => r.status)).toEqual([503, 503, 503]);
    expect(((await during![0]!.json()) as { code: string }).code).toBe("UNAVAILABLE");

    executor.open();
    const server = await starting;
    try {
      expect((await calls()).map((r) => r.status)).toEqual([401, 401, 401]);
    } finally {
      await server.close(0);
    }
  });
});
