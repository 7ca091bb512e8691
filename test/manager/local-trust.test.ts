import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { projectRoot } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
// What a server running as root does; CI runs as root, so there this never skips.
const root = process.getuid?.() === 0;

/**
 * The local executor isolates nothing, so a server running as root runs the build's commands
 * as `nobody`: they cannot read the server's environment (its API token, the app's key) nor
 * act as root on the machine.
 */
describe.skipIf(!root)("the local executor when the server runs as root", () => {
  let server: TestServer;
  beforeAll(async () => {
    execFileSync(process.execPath, ["scripts/bundle.js"], { cwd: projectRoot });
    const commands = [
      "mkdir -p dist",
      "id -u > dist/uid.txt",
      // This test process is the server: its environment holds CICD_API_TOKEN.
      `(tr '\\0' '\\n' < /proc/${process.pid}/environ | grep -c CICD_API_TOKEN || true) > dist/server-env.txt 2>/dev/null`,
      "(touch /root/planted 2>/dev/null && echo written || echo refused) > dist/root-files.txt",
    ];
    server = await startTestServer(
      testConfig({ executor: "local", targets: [{ name: "probe", url: `files://${path.join(projectRoot, "examples/hello")}`, commands, artifacts: ["dist/*.txt"] }] }),
      { executor: new LocalExecutor({ logger: memoryLogger(), cliCommand: [process.execPath, path.join(projectRoot, "docker/build/cicd.mjs")] }) },
    );
  }, 60_000);
  afterAll(async () => {
    await server?.close(0);
  });

  it("runs the commands as nobody, unable to read the server's environment or write root's files", async () => {
    const { build } = await server.manager.trigger({ target: "probe", trigger: "api" });
    const done = await server.manager.waitFor(build.key, finished, 60_000);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    const text = async (stem: string) => {
      const name = done.artifacts.find((a) => a.startsWith(stem))!;
      return (await (await server.api(`/api/v1/builds/${build.key}/artifacts/${name}`)).text()).trim();
    };
    expect(await text("uid-")).toBe("65534");
    expect(await text("server-env-")).not.toMatch(/^[1-9]/);
    expect(await text("root-files-")).toBe("refused");
  });
});
