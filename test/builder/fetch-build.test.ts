import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { fetchBuild } from "../../src/builder/fetch-build.js";
import { memoryLogger } from "../helpers/memory-logger.js";

/** A stand-in for the manager's request route: `answer` decides each poll. */
async function manager(answer: (req: IncomingMessage, reply: (status: number, body?: unknown) => void) => void) {
  const polls: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    polls.push(req);
    answer(req, (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/internal/builders/events`;
  return { url, polls, close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
}

describe("a builder fetching its build from the manager", () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()));
  });
  const options = (url: string, signal: AbortSignal) => ({ managerUrl: url, token: "builder-token", builderId: "b-1", log: memoryLogger(), signal });

  it("asks again after an empty answer and takes the request, with its token", async () => {
    const request = { key: "build-f1", target: "hello", url: "file:///r.git", commands: ["make"], artifacts: ["dist/*"] };
    let n = 0;
    const m = await manager((req, reply) => (n++ === 0 ? reply(204) : reply(200, request)));
    open.push(m);
    const got = await fetchBuild(options(m.url, new AbortController().signal));
    expect(got).toMatchObject(request);
    expect(m.polls.map((p) => [p.url, p.headers.authorization])).toEqual([
      ["/internal/builders/b-1/request", "Bearer builder-token"],
      ["/internal/builders/b-1/request", "Bearer builder-token"],
    ]);
  });

  it("gives up at once when the manager no longer knows the builder (401)", async () => {
    const m = await manager((_req, reply) => reply(401, { error: "unknown builder" }));
    open.push(m);
    expect(await fetchBuild(options(m.url, new AbortController().signal))).toBeUndefined();
    expect(m.polls).toHaveLength(1);
  });

  it("when stopped, ends its open poll at once rather than wait for the manager's answer", async () => {
    const m = await manager(() => undefined); // holds every poll open
    open.push(m);
    const stop = new AbortController();
    const fetching = fetchBuild(options(m.url, stop.signal));
    await expect.poll(() => m.polls.length).toBe(1);
    const closed = new Promise<void>((resolve) => m.polls[0]!.socket.once("close", () => resolve()));
    stop.abort();
    expect(await fetching).toBeUndefined();
    // The connection is gone: a builder ending is not held up by the manager's long poll.
    await closed;
    expect(m.polls).toHaveLength(1);
  });
});
