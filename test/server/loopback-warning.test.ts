import express from "express";
import { afterAll, describe, expect, it } from "vitest";
import { callbackWarning } from "../../src/server/callback-reach.js";
import { listen } from "../../src/server/listen.js";
import { startCicd, type CicdProcess } from "../helpers/cicd-bin.js";
import { testTarget, writeConfigFile } from "../helpers/config-file.js";
import { freePort } from "../helpers/free-port.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { testConfig } from "../helpers/server.js";

/**
 * Issue 15, point 1: a server its builders cannot call back warns at start, in one line, and the
 * start-up line says what the server is bound to and the URL to use.
 */

const started: CicdProcess[] = [];
afterAll(async () => {
  for (const p of started) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
    await p.exited;
  }
});

const env = { CICD_API_TOKEN: "loopback-warning-test-token-0123456789", CICD_CONFIG: undefined, APP_ID: undefined };

async function serve(document: Record<string, unknown>) {
  const { file } = writeConfigFile({ targets: [testTarget("hello", { url: "files:///nowhere", commands: ["true"] })], ...document }, { prefix: "cicd-loopback-" });
  const port = await freePort();
  const server = startCicd(["server", "--config", file], { ...env, PORT: String(port) });
  started.push(server);
  await server.seen("listening on");
  return { port, output: server.output() };
}

describe("cicd server, as the user starts it", () => {
  it("with the docker executor on 127.0.0.1, warns that builders cannot call back", async () => {
    const { port, output } = await serve({ executor: "docker", host: "127.0.0.1" });
    const warning = output.split("\n").filter((l) => l.includes("builds cannot call back"));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatch(/ WARN {2}\[cicd\] builds cannot call back: the server listens on 127\.0\.0\.1 only, which docker builders cannot reach from their containers \(they call http:\/\/host\.docker\.internal:\d+\); set host: 0\.0\.0\.0 in cicd\.yml/);
    expect(warning[0]).toContain(`host.docker.internal:${port}`);
    expect(output).toContain(`listening on http://127.0.0.1:${port} (executor docker: Docker `);
  });

  it("on every address, says so and gives the URL to use; no warning", async () => {
    const { port, output } = await serve({ executor: "local", host: "0.0.0.0" });
    expect(output).toContain(`listening on http://0.0.0.0:${port} (every address; from this machine http://127.0.0.1:${port}) (executor local: host processes;`);
    expect(output).not.toContain("builds cannot call back");
  });
});

describe("listen", () => {
  it("warns once through the server's logger and reports the bound address", async () => {
    const logger = memoryLogger();
    const config = testConfig({ host: "127.0.0.1", port: 0 });
    const { server, port, url, where } = await listen(express(), { config, unavailable: () => undefined, executor: { name: "docker", isolated: true, managerHost: "host.docker.internal" }, logger });
    server.close();
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(where).toBe(`http://127.0.0.1:${port}`);
    expect(logger.lines.filter((l) => l.includes("WARN"))).toHaveLength(1);
  });
});

describe("callbackWarning", () => {
  const docker = { executor: "docker", hostProcesses: false, managerHost: "host.docker.internal", port: 3000 };
  const local = { executor: "local", hostProcesses: true, managerHost: "127.0.0.1", port: 3000 };
  it("is silent when the workloads reach the server", () => {
    expect(callbackWarning({ ...docker, bound: "0.0.0.0" })).toBeUndefined();
    expect(callbackWarning({ ...docker, bound: "::" })).toBeUndefined();
    expect(callbackWarning({ ...docker, bound: "192.168.1.5", callbackHost: "192.168.1.5" })).toBeUndefined();
    expect(callbackWarning({ ...local, bound: "127.0.0.1" })).toBeUndefined();
    expect(callbackWarning({ ...local, bound: "::1" })).toBeUndefined();
    expect(callbackWarning({ ...local, bound: "10.0.0.2", callbackHost: "10.0.0.2" })).toBeUndefined();
  });
  it("names the case: loopback for containers, a container's own loopback, another address than the bridge, local builders calling 127.0.0.1", () => {
    expect(callbackWarning({ ...docker, bound: "127.0.0.1" })).toContain("the server listens on 127.0.0.1 only");
    expect(callbackWarning({ ...docker, bound: "0.0.0.0", callbackHost: "localhost" })).toContain("inside a container is the container itself");
    expect(callbackWarning({ ...docker, bound: "192.168.1.5" })).toContain("set callbackHost: 192.168.1.5");
    expect(callbackWarning({ ...local, bound: "10.0.0.2" })).toContain("local builders call http://127.0.0.1:3000; set callbackHost: 10.0.0.2");
  });
});
