// Slow-connection flood against the webhook endpoint of a `cicd server` process:
// `npx tsx bench/webhook-flood.ts` (BENCH_FLOOD_CONNECTIONS=100, BENCH_FLOOD_SECONDS=10).
// Each connection declares a 25 MB body, sends 64 kB every 100 ms and, when the server answers
// or closes, opens again (BENCH_FLOOD_REOPEN_MS=50 later); a validly signed push goes in every 250 ms beside it. Prints the
// server's RSS before, during (peak) and after, the answers the flood got, and how many of the
// valid pushes were accepted.
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { startFakeGitHub } from "./fake-github-api.js";
import { compileCli, freePort, rssKb, spawnServer, stopServer, waitHealthy } from "./server-process.js";
import { envInt, megabytes, sleep } from "./stats.js";

export interface FloodOptions {
  cli: string[];
  dir: string;
  connections: number;
  seconds: number;
  /** Pause before a connection the server answered opens again. */
  reopenMs: number;
}

export interface FloodResult {
  rssBeforeKb: number;
  rssPeakKb: number;
  /** 2 s after the flood stopped. */
  rssAfterKb: number;
  /** Answers the flood's connections got, by status ("closed" when the server closed without one). */
  answers: Record<string, number>;
  connectionsOpened: number;
  validSent: number;
  validAccepted: number;
}

const DECLARED = 25 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, "x");

export async function runFlood(o: FloodOptions): Promise<FloodResult> {
  const github = await startFakeGitHub();
  const port = await freePort();
  const configFile = path.join(o.dir, "cicd.yml");
  // The valid pushes are to a repository no target follows: the figure is the intake alone.
  const config = { port, host: "127.0.0.1", servicefs: "./servicefs", database: "./cicd.sqlite", executor: "local", targets: [{ name: "t", url: "file:///nonexistent", commands: ["true"], artifacts: ["x"] }] };
  writeFileSync(configFile, `# written by the benchmark (bench/webhook-flood.ts)\n${JSON.stringify(config, null, 2)}\n`);
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APP_ID|PRIVATE_KEY|WEBHOOK_SECRET|GHE_|CICD_|PORT$)/.test(k)));
  const server = spawnServer(o.cli, configFile, { ...base, CICD_API_TOKEN: randomBytes(16).toString("hex"), ...github.env }, path.join(o.dir, "server.log"));
  const url = `http://127.0.0.1:${port}`;
  const push = JSON.stringify({ ref: "refs/heads/main", after: "a".repeat(40), repository: { full_name: "bench/none", default_branch: "main" }, installation: { id: 1 } });
  const sendValid = async (id: string) => {
    const res = await fetch(`${url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": sign(github.webhookSecret, push) },
      body: push,
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    await res?.arrayBuffer();
    return res?.status ?? 0;
  };
  try {
    await waitHealthy(url, () => true, 60_000);
    await sendValid("warm-up");
    await sleep(1000);
    const rssBeforeKb = rssKb(server.pid);

    const answers: Record<string, number> = {};
    let opened = 0;
    let stopping = false;
    const sockets = new Set<Socket>();
    const slowSender = async (n: number) => {
      while (!stopping) {
        const status = await new Promise<string>((resolve) => {
          const socket = connect(port, "127.0.0.1");
          sockets.add(socket);
          opened++;
          let answer = "";
          let timer: NodeJS.Timeout | undefined;
          socket.on("error", () => undefined);
          socket.on("data", (d) => (answer += d.toString("latin1")));
          socket.once("connect", () => {
            socket.write(
              `POST /api/github/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${DECLARED}\r\n` +
                `X-GitHub-Event: push\r\nX-GitHub-Delivery: flood-${n}-${opened}\r\nX-Hub-Signature-256: ${sign("wrong", "x")}\r\n\r\n`,
            );
            timer = setInterval(() => socket.writable && socket.write(CHUNK), 100);
          });
          socket.once("close", () => {
            clearInterval(timer);
            sockets.delete(socket);
            resolve(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? "closed");
          });
        });
        answers[status] = (answers[status] ?? 0) + 1;
        if (!stopping) await sleep(o.reopenMs);
      }
    };
    let rssPeakKb = rssBeforeKb;
    const sampler = setInterval(() => (rssPeakKb = Math.max(rssPeakKb, rssKb(server.pid))), 100);
    const flood = Array.from({ length: o.connections }, (_, n) => slowSender(n));
    let validSent = 0;
    let validAccepted = 0;
    const until = Date.now() + o.seconds * 1000;
    while (Date.now() < until) {
      await sleep(250);
      validSent++;
      if ((await sendValid(`valid-${validSent}`)) === 200) validAccepted++;
    }
    stopping = true;
    for (const socket of sockets) socket.destroy();
    await Promise.all(flood);
    clearInterval(sampler);
    await sleep(2000);
    const rssAfterKb = rssKb(server.pid);
    return { rssBeforeKb, rssPeakKb, rssAfterKb, answers, connectionsOpened: opened, validSent, validAccepted };
  } finally {
    await stopServer(server, "SIGTERM");
    await github.close();
  }
}

function sign(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function describeFlood(r: FloodResult, o: Pick<FloodOptions, "connections" | "seconds" | "reopenMs">): string[] {
  const answers = Object.entries(r.answers).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join(", ");
  return [
    `webhook flood: ${o.connections} slow connections for ${o.seconds} s (each declaring 25 MB, 64 kB every 100 ms, reopened ${o.reopenMs} ms after an answer)`,
    `  server RSS before ${megabytes(r.rssBeforeKb)}, peak during ${megabytes(r.rssPeakKb)}, 2 s after ${megabytes(r.rssAfterKb)}`,
    `  flood connections opened ${r.connectionsOpened}; answers ${answers}`,
    `  valid pushes during the flood: ${r.validAccepted}/${r.validSent} accepted`,
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const options = { connections: envInt("BENCH_FLOOD_CONNECTIONS", 100), seconds: envInt("BENCH_FLOOD_SECONDS", 10), reopenMs: envInt("BENCH_FLOOD_REOPEN_MS", 50) };
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-bench-flood-"));
  try {
    // The server runs as users run it: compiled, one file per module (server-process.ts).
    const cacheDir = path.resolve(import.meta.dirname, "../node_modules/.cache/cicd-bench-flood");
    mkdirSync(cacheDir, { recursive: true });
    const cli = await compileCli(path.join(cacheDir, "cli.js"));
    const result = await runFlood({ ...options, cli, dir });
    for (const line of describeFlood(result, options)) console.log(line);
  } catch (error) {
    console.error(readFileSync(path.join(dir, "server.log"), "utf8").split("\n").slice(-20).join("\n"));
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
