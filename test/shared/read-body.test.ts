import { request, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { readBody } from "../../src/shared/read-body.js";

const LIMIT = 1024;
let server: Server | undefined;

afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A real server on 127.0.0.1 that answers with what readBody returned. */
async function serve(): Promise<{ port: number; seen: (Buffer | undefined)[] }> {
  const seen: (Buffer | undefined)[] = [];
  server = createServer((req, res) => {
    void readBody(req, LIMIT).then((body) => {
      seen.push(body);
      res.writeHead(body ? 200 : 413, { "content-type": "text/plain" });
      res.end(body ? `${body.length}` : "too large");
    });
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, seen };
}

/** Sends `chunks` (chunked when no length is given) and returns the answer's status and text. */
function send(port: number, chunks: Buffer[], headers: Record<string, string | number> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: "127.0.0.1", method: "POST", path: "/", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe("readBody", () => {
  it("returns a body up to the limit, whole", async () => {
    const { port, seen } = await serve();
    const body = Buffer.alloc(LIMIT, "a");
    expect(await send(port, [body.subarray(0, 100), body.subarray(100)])).toEqual({ status: 200, text: `${LIMIT}` });
    expect(seen[0]?.equals(body)).toBe(true);
  });

  it("refuses a declared content-length over the limit before reading it", async () => {
    const { port, seen } = await serve();
    const body = Buffer.alloc(LIMIT + 1, "b");
    expect(await send(port, [body], { "content-length": body.length })).toEqual({ status: 413, text: "too large" });
    expect(seen).toEqual([undefined]);
  });

  it("refuses a chunked body that grows past the limit, drains the rest, and still answers", async () => {
    const { port, seen } = await serve();
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(512, "c"));
    expect(await send(port, chunks)).toEqual({ status: 413, text: "too large" });
    expect(seen).toEqual([undefined]);
    // The connection's server is still fine for the next request.
    expect(await send(port, [Buffer.from("ok")])).toEqual({ status: 200, text: "2" });
  });
});
