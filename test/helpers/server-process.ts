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

/** Starts `cicd server --config FILE` as a child process; resolves once it listens. */
export async function spawnServer(configFile: string, env: Record<string, string | undefined> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "test/helpers/cicd-cli.ts"), "server", "--config", configFile], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (!text.includes("listening on")) return;
      clearInterval(timer);
      resolve();
    }, 50);
    void exited.then(() => (clearInterval(timer), reject(new Error(`server exited before listening:\n${text}`))));
  });
  return { child, output: () => text, exited };
}
