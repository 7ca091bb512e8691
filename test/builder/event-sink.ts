import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { vi } from "vitest";
import { builderEventSchema, type BuilderEvent } from "../../src/shared/protocol.js";

/** A stand-in for the manager's events endpoint: checks the bearer token and the schema. */
export interface EventSink {
  url: string;
  port: number;
  events: BuilderEvent[];
  /** Requests refused (401 or schema), for asserting nothing bad was sent. */
  refused: number;
  waitFor(count: number, timeoutMs?: number): Promise<BuilderEvent[]>;
  close(): Promise<void>;
}

export async function startEventSink(options: { token: string; port?: number }): Promise<EventSink> {
  const sink = { events: [] as BuilderEvent[], refused: 0 };
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += String(chunk);
    if (req.headers.authorization !== `Bearer ${options.token}`) {
      sink.refused++;
      res.writeHead(401).end();
      return;
    }
    const parsed = builderEventSchema.safeParse(JSON.parse(body));
    if (!parsed.success) {
      sink.refused++;
      res.writeHead(400).end();
      return;
    }
    sink.events.push(parsed.data);
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/internal/builders/events`,
    port,
    get events() {
      return sink.events;
    },
    get refused() {
      return sink.refused;
    },
    waitFor: (count, timeoutMs = 20_000) =>
      vi.waitFor(
        () => {
          if (sink.events.length < count) throw new Error(`expected ${count} events within ${timeoutMs} ms, got ${JSON.stringify(sink.events.map((e) => e.type))}`);
          return sink.events;
        },
        { timeout: timeoutMs, interval: 20 },
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
