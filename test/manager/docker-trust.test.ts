import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { freePort } from "../helpers/free-port.js";

const hasDocker = await requireDocker();
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

/** What a build's commands find out about themselves; each line becomes a file in dist/. */
const inspect = [
  "mkdir -p dist",
  "id -u > dist/uid.txt",
  "grep CapEff /proc/self/status | tr -d '\\t' > dist/caps.txt",
  // Every process's environment the commands can read: the builder's (with its token) must not be one of them.
  "(for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f 2>/dev/null; done) | grep -c CICD_MANAGER_TOKEN > dist/token-seen.txt || true",
  "(echo x > /opt/cicd/planted && echo written || echo refused) > dist/builder-files.txt 2>/dev/null",
];

/** Tries a TCP connection to each `host:port` from inside the build; writes dist/net.json. */
function probe(targets: Record<string, string>): string {
  const script = `
const net = require("net");
const targets = ${JSON.stringify(targets)};
const results = {};
Promise.all(Object.entries(targets).map(([name, at]) => new Promise((done) => {
  const [host, port] = at.split(":");
  const socket = net.connect({ host, port: Number(port) });
  const end = (what) => { results[name] = what; socket.destroy(); done(); };
  socket.setTimeout(4000, () => end("timeout"));
  socket.once("connect", () => end("connected"));
  socket.once("error", (e) => end(e.code));
}))).then(() => require("fs").writeFileSync("dist/net.json", JSON.stringify(results)));
`;
  return `node -e '${script.replace(/'/g, "'\\''")}'`;
}

describe.skipIf(!hasDocker)("what a build's commands can reach, from inside real builder containers", () => {
  let server: TestServer;
  let hostService: Server;
  let connections = 0;
  let neighbour = "";
  let neighbourIp = "";
  const source = mkdtempSync(path.join(tmpdir(), "cicd-trust-src-"));

  beforeAll(async () => {
    await ensureImage("builder");
    writeFileSync(path.join(source, "README"), "trust test\n");
    hostService = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => hostService.listen(0, "0.0.0.0", resolve));
    neighbour = execFileSync("docker", ["run", "-d", "--rm", "--label", "cicd.test=docker-trust", "--entrypoint", "node", "node:20-bookworm-slim", "-e", "require('net').createServer(s=>s.end('hi')).listen(7000)"], { encoding: "utf8" }).trim();
    neighbourIp = execFileSync("docker", ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", neighbour], { encoding: "utf8" }).trim();
    const port = await freePort();
    const targets = () => {
        const servicePort = (hostService.address() as { port: number }).port;
        const hostIp = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal && a.address !== "172.17.0.1")?.address ?? "172.17.0.1";
        const net = probe({
          manager: `172.17.0.1:${port}`,
          hostViaGateway: `172.17.0.1:${servicePort}`,
          hostViaOwnAddress: `${hostIp}:${servicePort}`,
          otherContainer: `${neighbourIp}:7000`,
          packageRegistry: "deb.debian.org:80",
        });
        return [
          { name: "inside", url: `files://${source}`, commands: [...inspect], artifacts: ["dist/*"] },
          { name: "fork", url: `files://${source}`, commands: ["mkdir -p dist", "id -u > dist/uid.txt", net], artifacts: ["dist/*"], user: "root" },
        ];
    };
    server = await startTestServer(testConfig({ host: "0.0.0.0", port, targets: targets() }), {
      executor: new DockerExecutor({ logger: memoryLogger(), instance: "docker-trust-test" }),
    });
  }, 240_000);
  afterAll(async () => {
    await server?.close(0);
    hostService?.close();
    if (neighbour) execFileSync("docker", ["rm", "-f", neighbour]);
  });

  const file = async (key: string, name: string) => {
    const build = server.manager.get(key)!;
    const artifact = build.artifacts.find((a) => a.startsWith(name.replace(/\.[^.]+$/, ""))) ?? name;
    const res = await server.api(`/api/v1/builds/${key}/artifacts/${artifact}`);
    expect(res.status).toBe(200);
    return (await res.text()).trim();
  };

  it("runs the commands as an unprivileged user without capabilities, unable to read the builder's token or change its files", async () => {
    const { build } = await server.manager.trigger({ target: "inside", trigger: "api" });
    const done = await server.manager.waitFor(build.key, finished, 120_000);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    expect(await file(build.key, "uid.txt")).toBe("1000");
    expect(await file(build.key, "caps.txt")).toBe("CapEff:0000000000000000");
    expect(await file(build.key, "token-seen.txt")).toBe("0");
    expect(await file(build.key, "builder-files.txt")).toBe("refused");
  });

  it("cuts a fork's build off from the manager, the host, other containers — not from the package registries", async () => {
    const { build } = await server.manager.trigger({ target: "fork", trigger: "pull_request", ref: "refs/pull/5/head", pullRequest: 5, untrusted: true });
    const done = await server.manager.waitFor(build.key, finished, 120_000);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    // `user: root` is never honoured for an untrusted build.
    expect(await file(build.key, "uid.txt")).toBe("1000");
    const net = JSON.parse(await file(build.key, "net.json")) as Record<string, string>;
    expect(net).toMatchObject({ manager: "ECONNREFUSED", hostViaGateway: "ECONNREFUSED", hostViaOwnAddress: "ECONNREFUSED", otherContainer: "ECONNREFUSED", packageRegistry: "connected" });
    expect(connections).toBe(0);
    // The same probe from a trusted build reaches them: the rules are the fork's alone.
    const trusted = await server.manager.trigger({ target: "fork", trigger: "api" });
    const ok = await server.manager.waitFor(trusted.build.key, finished, 120_000);
    expect(ok.status, ok.reason ?? "").toBe("succeeded");
    const open = JSON.parse(await file(trusted.build.key, "net.json")) as Record<string, string>;
    expect(open).toMatchObject({ hostViaGateway: "connected", otherContainer: "connected" });
  });
});
