import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { sleep } from "./stats.js";

const root = path.resolve(import.meta.dirname, "..");

/**
 * Compiles the cicd CLI to JavaScript as `npm run build` does (tsc: one .js file per module,
 * dependencies in node_modules) and returns how to run it: `outFile`, a launcher like
 * bin/cicd.js, with the modules beside it in `src/`. It must be inside the project so that
 * node_modules resolve (node_modules/.cache will do). The server then runs as users run it,
 * plain `node`, without tsx in the process. One file per module matters: a module the server
 * imports only when needed (`import()`) stays unloaded until then, as in dist/; a single
 * bundle would load every package any of them imports at start.
 */
export async function compileCli(outFile: string): Promise<string[]> {
  const dir = path.dirname(outFile);
  const sources = readdirSync(path.join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => path.join(root, "src", f));
  await build({
    entryPoints: sources,
    outdir: path.join(dir, "src"),
    outbase: path.join(root, "src"),
    bundle: false,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
  writeFileSync(outFile, 'import { main } from "./src/cli.js";\n\nprocess.exitCode = await main(process.argv.slice(2));\n');
  return [outFile];
}

/** The CLI from source through tsx, as the tests run it. */
export const tsxCli = ["--import", "tsx", path.join(root, "test/helpers/cicd-cli.ts")];

export interface ServerChild {
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
}

/** Starts `cicd server --config FILE` as a child process; its output is appended to `logFile`. */
export function spawnServer(cli: string[], configFile: string, env: NodeJS.ProcessEnv, logFile: string): ServerChild {
  const fd = openSync(logFile, "a");
  const child = spawn(process.execPath, [...cli, "server", "--config", configFile], { cwd: root, env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, pid: child.pid!, exited };
}

export interface Health {
  status: string;
  queued: number;
  running: number;
}

/** Polls `/healthz` every `intervalMs` until it answers and `ready` holds; throws after `timeoutMs`. */
export async function waitHealthy(url: string, ready: (h: Health) => boolean, timeoutMs: number, intervalMs = 10): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  let last: Health | string = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) {
        const health = (await res.json()) as Health;
        if (ready(health)) return health;
        last = health;
      }
    } catch {
      // not listening yet
    }
    await sleep(intervalMs);
  }
  throw new Error(`server at ${url} not ready after ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

/** Resident memory of a process in kB (VmRSS of /proc/<pid>/status). */
export function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** Sends `signal` to the child and waits for it to exit (SIGKILL after `timeoutMs`). */
export async function stopServer(server: ServerChild, signal: NodeJS.Signals, timeoutMs = 15_000): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill(signal);
  const timer = setTimeout(() => server.child.kill("SIGKILL"), timeoutMs);
  await server.exited;
  clearTimeout(timer);
}

export { freePort } from "../test/helpers/server-process.js";
