import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseConfig, type Config } from "../../src/config/load-config.js";
import type { Executor } from "../../src/executor/types.js";
import { writeConfigFile } from "./config-file.js";
import { memoryLogger } from "./memory-logger.js";
import { startServer, type RunningServer } from "../../src/server/start-server.js";

export interface TestServer extends RunningServer {
  dir: string;
  config: Config;
  logLines: string[];
  /** fetch against the API with the bearer token. */
  api(pathname: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

/** A config document with `targets` and defaults suited to tests (temp dir, port 0). */
export function testConfig(document: Record<string, unknown>, dir = mkdtempSync(path.join(tmpdir(), "cicd-server-"))): Config {
  const full = { port: 0, host: "127.0.0.1", servicefs: "./servicefs", database: "./cicd.sqlite", ...document };
  // The file is written too (the server names it in messages); parsing the document itself keeps
  // `${VAR}` references and values the YAML writer would change out of the way.
  const { file } = writeConfigFile(full, { dir });
  return parseConfig(full, { file, env: {} });
}

/** Starts a real server (real SQLite, real HTTP) on 127.0.0.1 with the given executor. */
export async function startTestServer(config: Config, options: { executor?: Executor; env?: NodeJS.ProcessEnv } = {}): Promise<TestServer> {
  const logger = memoryLogger();
  const server = await startServer({ config, executor: options.executor, logger, env: { CICD_API_TOKEN: "test-api-token-0123456789", ...options.env } });
  return Object.assign(server, {
    dir: path.dirname(config.file),
    config,
    logLines: logger.lines,
    api: (pathname: string, init: RequestInit & { json?: unknown } = {}) => {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${server.apiToken}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      return fetch(`${server.url}${pathname}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
  });
}
