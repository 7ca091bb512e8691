import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { projectRoot } from "./images.js";

// bench/ and scripts/ take freePort from here, with the child process it is mostly for.
export { freePort } from "./free-port.js";

export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** How to run the CLI (node's arguments before `server`); default: src/ through tsx. */
  cli?: string[];
  /** Told the child at once, before it listens (so a caller can kill it by pid whatever happens). */
  onSpawn?: (server: ServerProcess) => void;
  /** A server that does not listen within this is killed (default: no limit). */
  timeoutMs?: number;
}

/** Starts `cicd server --config FILE` as a child process; resolves once it listens. */
export async function spawnServer(configFile: string, env: Record<string, string | undefined> = {}, options: SpawnOptions = {}): Promise<ServerProcess> {
  const cli = options.cli ?? ["--import", "tsx", path.join(projectRoot, "test/helpers/cicd-cli.ts")];
  const child = spawn(process.execPath, [...cli, "server", "--config", configFile], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const server = { child, output: () => text, exited };
  options.onSpawn?.(server);
  // Read as it arrives (after the listeners above have added it to `text`): no polling.
  await new Promise<void>((resolve, reject) => {
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server did not listen within ${options.timeoutMs} ms:\n${text.split("\n").slice(-30).join("\n")}`));
    }, options.timeoutMs);
    const seen = () => {
      if (!text.includes("listening on")) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening:\n${text}`));
    });
  });
  return server;
}
