// The webhook load generator, a child process of the benchmark so that it does not share the
// server's event loop: `node --import tsx bench/webhook-load.ts '<json options>'`.
// Sends signed push webhooks over keep-alive HTTP, each with its own delivery id and its own
// pushed commit (the server takes the same push sent again as a replay and queues nothing),
// and prints one JSON line: elapsed time, answer times and failures. Delivery ids go to `idsFile`.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";

export interface LoadOptions {
  url: string;
  secret: string;
  bodyFile: string;
  idsFile: string;
  /** Webhooks measured. */
  n: number;
  /** Webhooks sent first and not measured (they still must queue builds). */
  warmup: number;
  concurrency: number;
}

export interface LoadResult {
  sent: number;
  ok: number;
  failures: string[];
  elapsedMs: number;
  /** Answer time of each measured webhook, ms. */
  latencies: number[];
}

const options = JSON.parse(process.argv[2]!) as LoadOptions;
const template = readFileSync(options.bodyFile, "utf8");
const pushed = (JSON.parse(template) as { after: string }).after;

/** The push payload for a new commit, and its signature. */
function nextPush(): { body: Buffer; signature: string } {
  const body = Buffer.from(template.split(pushed).join(randomBytes(20).toString("hex")));
  return { body, signature: `sha256=${createHmac("sha256", options.secret).update(body).digest("hex")}` };
}
const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
const target = new URL(options.url);
const ids: string[] = [];
const failures: string[] = [];
let ok = 0;

function send(): Promise<number> {
  const id = randomUUID();
  const { body, signature } = nextPush();
  ids.push(id);
  const start = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": body.length,
          "user-agent": "GitHub-Hookshot/bench",
          "x-github-event": "push",
          "x-github-delivery": id,
          "x-hub-signature-256": signature,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          if (res.statusCode === 200) ok++;
          else if (failures.length < 20) failures.push(`${res.statusCode}: ${text.slice(0, 200)}`);
          resolve(performance.now() - start);
        });
      },
    );
    req.on("error", (error) => {
      failures.push(String(error));
      resolve(performance.now() - start);
    });
    req.end(body);
  });
}

/** `count` webhooks, `concurrency` in flight at a time. */
async function pool(count: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, count) }, async () => {
      while (next < count) {
        next++;
        latencies.push(await send());
      }
    }),
  );
  return latencies;
}

await pool(options.warmup);
const start = performance.now();
const latencies = await pool(options.n);
const elapsedMs = performance.now() - start;
agent.destroy();
writeFileSync(options.idsFile, ids.join("\n"));
const result: LoadResult = { sent: ids.length, ok, failures, elapsedMs, latencies };
process.stdout.write(`${JSON.stringify(result)}\n`);
