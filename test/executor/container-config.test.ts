import { describe, expect, it } from "vitest";
import { containerConfig, parseMemory } from "../../src/executor/docker/container-config.js";
import type { WorkloadSpec } from "../../src/executor/index.js";

const base: WorkloadSpec = { id: "b1", role: "runner", target: "hello", image: "cicd-runner", args: ["--dir", "/srv/x"], env: {}, mounts: [] };

describe("containerConfig", () => {
  it("reads memory sizes as users write them in cicd.yml", () => {
    expect(parseMemory("512m")).toBe(512 * 1024 ** 2);
    expect(parseMemory("2g")).toBe(2 * 1024 ** 3);
    expect(parseMemory("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseMemory("65536k")).toBe(64 * 1024 ** 2);
    expect(parseMemory("256mb")).toBe(256 * 1024 ** 2);
    expect(parseMemory("10485760")).toBe(10 * 1024 ** 2);
  });

  it("rejects sizes Docker would not take, naming the field", () => {
    expect(() => parseMemory("lots")).toThrow(/`limits.memory` to be a size like 512m or 2g, got "lots"/);
    expect(() => parseMemory("1m")).toThrow(/at least 6m/);
  });

  it("publishes ports written docker style and runs the bundle with the role first", () => {
    const config = containerConfig({ ...base, ports: ["8080:80", "127.0.0.1:9000:9000/udp"], listenPort: 7000 });
    expect(config.name).toBe("cicd-runner-b1");
    expect(config.Entrypoint).toEqual(["node", "/opt/cicd/cicd.mjs"]);
    expect(config.Cmd).toEqual(["runner", "--dir", "/srv/x"]);
    expect(config.ExposedPorts).toEqual({ "80/tcp": {}, "9000/udp": {}, "7000/tcp": {} });
    expect(config.HostConfig?.PortBindings).toEqual({
      "80/tcp": [{ HostPort: "8080" }],
      "9000/udp": [{ HostPort: "9000", HostIp: "127.0.0.1" }],
    });
    expect(config.Labels).not.toHaveProperty("cicd.build");
  });

  it("rejects bad ports, ids and mounts with a clear error", () => {
    expect(() => containerConfig({ ...base, ports: ["80"] })).toThrow(/`ports` to be entries like "8080:80"/);
    expect(() => containerConfig({ ...base, ports: ["70000:80"] })).toThrow(/a port from 1 to 65535, got "70000"/);
    expect(() => containerConfig({ ...base, id: "../x" })).toThrow(/`workload id`/);
    expect(() => containerConfig({ ...base, mounts: [{ host: "/tmp/a:b", container: "/x" }] })).toThrow(/without ':'/);
    expect(() => containerConfig({ ...base, mounts: [{ host: "/tmp/a", container: "relative" }] })).toThrow(/an absolute path/);
    expect(() => containerConfig({ ...base, mounts: [{ host: "/run/docker.sock", container: "/d.sock" }] })).toThrow(/Docker socket/);
  });
});
