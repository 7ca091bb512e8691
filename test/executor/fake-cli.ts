import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * A stand-in for the cicd CLI, as a workload sees it: `<role> <action> ...`. Lets the executor
 * tests run real processes and containers with known behaviour, without the real builder.
 */
export const fakeCliSource = String.raw`
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
const [role, action, ...rest] = process.argv.slice(2);
const out = (line) => process.stdout.write(line + "\n");
switch (action) {
  case "echo":
    out("out:" + role + ":" + rest.join(" "));
    process.stderr.write("err:" + rest.join(" ") + "\n");
    break;
  case "exit":
    process.exitCode = Number(rest[0]);
    break;
  case "sleep":
    out("sleeping");
    setTimeout(() => out("woke"), Number(rest[0]) * 1000);
    break;
  case "ignore-term":
    process.on("SIGTERM", () => out("got SIGTERM, ignoring it"));
    out("ready");
    setInterval(() => {}, 1000);
    break;
  case "spawn-sleep": {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    out("grandchild " + child.pid);
    setInterval(() => {}, 1000);
    break;
  }
  case "leave-behind": {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    child.unref();
    out("grandchild " + child.pid);
    break;
  }
  case "alloc": {
    const blocks = [];
    for (let i = 0; i < Number(rest[0]); i++) blocks.push(Buffer.alloc(1024 * 1024, 1));
    out("allocated " + blocks.length);
    break;
  }
  case "fetch":
    fetch(rest[0]).then((r) => r.text()).then((t) => out("got:" + t), (e) => { out("fetch failed: " + (e.cause?.message ?? e.message)); process.exitCode = 2; });
    break;
  case "env":
    for (const name of rest) out(name + "=" + (process.env[name] ?? "<unset>"));
    break;
  case "args":
    out(JSON.stringify(rest));
    break;
  case "cat":
    out(readFileSync(rest[0], "utf8"));
    break;
  case "write":
    writeFileSync(rest[0], rest[1] ?? "");
    out("wrote " + rest[0]);
    break;
  case "version":
    out("version " + VERSION);
    break;
  default:
    process.stderr.write("unknown action " + action + "\n");
    process.exitCode = 64;
}
`;

/** Writes the fake CLI (with `VERSION` baked in) to `file`. */
export function writeFakeCli(file: string, version = "1"): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `const VERSION = ${JSON.stringify(version)};\n${fakeCliSource}`);
  return file;
}
