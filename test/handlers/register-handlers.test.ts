import { readFileSync } from "node:fs";
import path from "node:path";
import type { Probot } from "probot";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BackgroundTasks } from "../../src/github/background-tasks.js";
import { registerHandlers } from "../../src/handlers/register-handlers.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { FakeBuildService } from "../fixtures/fake-build-service.js";
import { testConfig } from "../fixtures/github-app-fixture.js";

describe("the app manifest", () => {
  it("subscribes to every event the handlers listen to and grants what they use", () => {
    const events: string[] = [];
    const app = { on: (names: string | string[]) => events.push(...[names].flat()) } as unknown as Probot;
    const logger = memoryLogger();
    registerHandlers(app, { service: new FakeBuildService(), config: testConfig(), logger, tasks: new BackgroundTasks(logger) });
    const manifest = parse(readFileSync(path.join(import.meta.dirname, "../../app.yml"), "utf8"));
    const subscribed = new Set(events.map((e) => e.split(".")[0]));
    expect([...subscribed].sort()).toEqual([...manifest.default_events].sort());
    expect(manifest.default_permissions).toEqual({ checks: "write", contents: "read", issues: "write", pull_requests: "write", metadata: "read" });
    expect(manifest.hook_attributes.url).toMatch(/\/api\/github\/webhooks$/);
  });
});
