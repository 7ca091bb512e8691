import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/**
 * Requests Node's HTTP parser refuses before any route sees them are answered like every other
 * API error, JSON `{"error","code"}`, and the server goes on answering. (Found by the API fuzz
 * test: a 17 kB URL got a bare 431 with no body.)
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(testConfig({ targets: [{ name: "hello", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }] }), { executor: new FakeExecutor() });
});
afterAll(() => server.close(0));

/** Sends `raw` on a fresh connection and reads the whole answer (the server closes it). */
function exchange(raw: string): Promise<string> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    let answer = "";
    const socket = connect(Number(port), "127.0.0.1", () => socket.end(raw));
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}

function parse(answer: string) {
  const [head, body = ""] = answer.split("\r\n\r\n");
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head ?? "")?.[1]), head: head ?? "", body: JSON.parse(body) as { error: string; code: string } };
}

describe("requests the HTTP parser refuses", () => {
  it("a URL and headers over Node's limit get 431 with a JSON error that says what to do", async () => {
    const answer = parse(await exchange(`GET /api/v1/builds/${"k".repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`));
    expect(answer.status).toBe(431);
    expect(answer.head).toMatch(/content-type: application\/json/i);
    expect(answer.body.code).toBe("HEADERS_TOO_LARGE");
    expect(answer.body.error).toContain("send a shorter URL or fewer headers");
  });

  it("malformed HTTP gets 400 with a JSON error, and the server still answers", async () => {
    const answer = parse(await exchange("GET /healthz HTTP/1.1\r\nbad header line\r\n\r\n"));
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe("INVALID_ARGUMENT");
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
