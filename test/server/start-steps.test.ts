import { createServer, type Server } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/server/start-server.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { testConfig } from "../helpers/server.js";

/**
 * A start that fails at any step lets go of what the earlier steps opened, the database lock
 * first of all: the same process can start the server again on the same database (issue 11,
 * point 5). Before the steps had one clean-up, only a failure to listen let the lock go.
 */

const env = { CICD_API_TOKEN: "start-steps-test-token-0123456789" };
const started: RunningServer[] = [];
afterAll(async () => {
  for (const server of started) await server.close(0);
});

async function startAgain(config: ReturnType<typeof testConfig>) {
  const server = await startServer({ config, executor: new FakeExecutor(), env, logger: memoryLogger() });
  started.push(server);
  return server;
}

describe("a failed start", () => {
  it("lets the database go when GitHub's variables are wrong, so a corrected start in the same process runs", async () => {
    const config = testConfig({ targets: [] });
    const failed = startServer({ config, executor: new FakeExecutor(), env: { ...env, APP_ID: "123" }, logger: memoryLogger() });
    await expect(failed).rejects.toThrow("WEBHOOK_SECRET is required when APP_ID is set");
    const server = await startAgain(config);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("lets the database go when the port is taken", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const config = testConfig({ targets: [], port });
      await expect(startServer({ config, executor: new FakeExecutor(), env, logger: memoryLogger() })).rejects.toThrow(/EADDRINUSE/);
      const server = await startAgain({ ...config, port: 0 });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      taken.close();
    }
  });

  it("is refused before anything opens when a variable is wrong", async () => {
    const config = testConfig({ targets: [] });
    await expect(startServer({ config, executor: new FakeExecutor(), env: { ...env, LOG_FORMAT: "xml" } })).rejects.toThrow(
      'environment: LOG_FORMAT: expected one of text, json, got "xml"',
    );
    await startAgain(config);
  });
});
