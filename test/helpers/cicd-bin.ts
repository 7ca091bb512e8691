import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { projectRoot } from "./images.js";

/**
 * bin/cicd.js as a user runs it (its own error handling and exit codes), loading the CLI from
 * src/ instead of dist/, so a test needs no `npm run build`: the launcher's text with its one
 * import pointed at src/cli.ts, run under tsx.
 */
function launcher(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-bin-"));
  const file = path.join(dir, "cicd.mjs");
  const text = readFileSync(path.join(projectRoot, "bin/cicd.js"), "utf8");
  if (!text.includes('"../dist/cli.js"')) throw new Error("bin/cicd.js no longer imports ../dist/cli.js: update test/helpers/cicd-bin.ts");
  writeFileSync(file, text.replace('"../dist/cli.js"', JSON.stringify(path.join(projectRoot, "src/cli.ts"))));
  return file;
}

export interface CicdRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CicdProcess {
  child: ChildProcess;
  /** stdout and stderr so far, as they arrived. */
  output: () => string;
  /** Resolves once `text` appeared in the output (rejects if the process exits first). */
  seen: (text: string) => Promise<void>;
  exited: Promise<number | null>;
}

/** Starts `cicd <args>`; the caller ends it (SIGTERM) when it keeps running. */
export function startCicd(args: string[], env: Record<string, string | undefined> = {}): CicdProcess {
  const child = spawn(process.execPath, ["--import", "tsx", launcher(), ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const waiting = new Set<() => void>();
  const add = (chunk: Buffer) => {
    text += chunk.toString();
    for (const check of waiting) check();
  };
  child.stdout!.on("data", add);
  child.stderr!.on("data", add);
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const seen = (wanted: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (text.includes(wanted)) {
          waiting.delete(check);
          resolve();
        }
      };
      waiting.add(check);
      check();
      void exited.then(() => {
        waiting.delete(check);
        reject(new Error(`cicd exited before printing ${JSON.stringify(wanted)}:\n${text}`));
      });
    });
  return { child, output: () => text, seen, exited };
}

/** Runs `cicd <args>` to its end. */
export function runCicd(args: string[], env: Record<string, string | undefined> = {}): Promise<CicdRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", launcher(), ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
