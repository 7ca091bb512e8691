import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lastCallbackError, silentBuilderReason } from "../../src/manager/builder-silence.js";
import { freePort } from "../helpers/free-port.js";
import { projectRoot } from "../helpers/images.js";

/**
 * Issue 15, point 1: a builder that started but cannot call the manager back (a server bound to
 * loopback, a wrong callbackHost) ends its build with a reason that says so, with the address it
 * called and the error, read from what the real builder prints while its broadcaster retries.
 */

let stop: (() => void) | undefined;
afterEach(() => stop?.());

/** A real `cicd builder` serving, told to call a manager where nothing listens; its output once it said so. */
async function outputOfUnreachableBuilder(managerUrl: string): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "test/helpers/cicd-cli.ts"), "builder", "--publish-to", "manager", "--manager-token", "t0ken-for-the-silence-test"], {
    cwd: projectRoot,
    env: { ...process.env, CICD_MANAGER_URL: managerUrl, CICD_HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  stop = () => child.kill("SIGKILL");
  let text = "";
  await new Promise<void>((resolve, reject) => {
    const add = (chunk: Buffer) => {
      text += chunk.toString();
      if (lastCallbackError(text)) resolve();
    };
    child.stdout.on("data", add);
    child.stderr.on("data", add);
    child.once("close", () => reject(new Error(`the builder exited:\n${text}`)));
  });
  return text;
}

describe("a builder that cannot call back", () => {
  it("ends its build with a reason naming the address and the error", async () => {
    const url = `http://127.0.0.1:${await freePort()}/internal/builders/events`;
    const output = await outputOfUnreachableBuilder(url);
    expect(silentBuilderReason(url, output, 120_000)).toBe(
      `the builder started but could not call the manager back at ${url} (ECONNREFUSED) within 2 minutes; the server must listen on an address builders reach: check host and callbackHost in cicd.yml`,
    );
  });

  it("reads the error from JSON log lines too", () => {
    const line = JSON.stringify({ time: "t", level: "info", name: "builder:broadcast", msg: "the manager is unreachable; retrying the event", type: "ready", why: "EHOSTUNREACH" });
    expect(lastCallbackError(`starting\n${line}\n`)).toBe("EHOSTUNREACH");
  });

  it("keeps the old reason when the builder printed nothing about its calls", () => {
    expect(silentBuilderReason("http://h:1/x", "booting\n", 120_000)).toBe("the builder did not start within 2 minutes");
  });
});
