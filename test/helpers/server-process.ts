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
  // Read as it arrives (after the listeners above have added it to `text`): no polling.
  await new Promise<void>((resolve, reject) => {
    const seen = () => {
      if (text.includes("listening on")) resolve();
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    void exited.then(() => reject(new Error(`server exited before listening:\n${text}`)));
  });
  return { child, output: () => text, exited };
}
