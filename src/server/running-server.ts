import type { Server } from "node:http";
import type { Executor } from "../executor/types.js";
import type { GitHubIntegration } from "../webhooks/mount-github.js";
import type { Manager } from "../manager/manager.js";
import type { Runners } from "../manager/runners.js";
import type { ManagerParts } from "./make-manager.js";
import type { HeldDatabase } from "./open-database-step.js";

export interface RunningServer {
  url: string;
  port: number;
  apiToken: string;
  manager: Manager;
  executor: Executor;
  runners: Runners;
  github?: GitHubIntegration;
  /** Graceful stop: no new work, running builds get `graceMs`, then everything closes. */
  close(graceMs?: number): Promise<void>;
  /** Second signal: interrupt running builds at once. */
  interrupt(): void;
}

/** The started server: its parts, and the one order in which they stop. */
export function running(parts: {
  url: string;
  port: number;
  apiToken: string;
  github?: GitHubIntegration;
  executor: Executor;
  parts: ManagerParts;
  server: Server;
  database: HeldDatabase;
  graceMs: number;
  /** Aborted as the server stops: event streams say goodbye before connections are cut. */
  streams?: AbortController;
}): RunningServer {
  const { url, port, apiToken, github, executor, server, database } = parts;
  const { manager, runners, badBuilds, retention, notifier } = parts.parts;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    apiToken,
    manager,
    executor,
    runners,
    github,
    interrupt: () => manager.interruptAll(),
    close: (graceMs = parts.graceMs) =>
      (closing ??= (async () => {
        await manager.shutdown(graceMs);
        // A clean-up in progress ends before the database closes.
        await retention.close();
        runners.close();
        badBuilds.close();
        notifier.close();
        parts.streams?.abort();
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await github?.close();
        await executor.close();
        database.close();
      })()),
  };
}
