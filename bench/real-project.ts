// A real TypeScript project with npm dependencies (`npm ci && npm run build && npm test`), built
// by hand in a fresh container (the floor), by cicd with empty caches (cold), and by cicd with
// its npm cache and git mirror warm. Needs the npm registry (through the host's CA certificates,
// NODE_EXTRA_CA_CERTS, handed in as the target's `caCertificates`) and npm in the builder image.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { CicdClient } from "../src/client/index.js";
import { createExecutor } from "../src/executor/index.js";
import { FINAL_STATUSES } from "../src/manager/types.js";
import { startServer } from "../src/server/start-server.js";
import type { Logger } from "../src/shared/logger.js";
import { startGitHttpServer } from "../test/helpers/git-http-server.js";
import { git } from "../test/helpers/git-repos.js";
import { benchConfig } from "./bench-config.js";
import type { Cleanup } from "./cleanup.js";
import { median, timed, verdict } from "./stats.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
/** npm without its network chatter, the same for both sides. */
const NPM_ENV = { npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };
const COMMANDS = ["npm ci", "npm run build", "npm test"];

export interface RealProjectOptions {
  dir: string;
  image: string;
  /** Label of the floor's containers ("key=value"), for cleanup. */
  label: string;
  /** Names cicd's containers (cicd.instance). */
  instance: string;
  logger: Logger;
  cleanup: Cleanup;
  /** Builds measured for each of floor, cold and warm. */
  rounds: number;
}

/**
 * Returns one `bench:` line per figure. Each round: the floor (git clone from the server, then
 * `docker run --rm` of the builder image with the clone mounted, running the commands as root),
 * a cold cicd build (the first build of a target of its own: empty npm cache, no git mirror) and
 * a warm one (the next build of a target that built before). Medians over the rounds.
 */
export async function benchRealProject(o: RealProjectOptions): Promise<string[]> {
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  if (!ca || !existsSync(ca)) throw new Error("set NODE_EXTRA_CA_CERTS to the CA certificates that reach the npm registry (containers get them as caCertificates)");
  const npm = await run("docker", ["run", "--rm", "--entrypoint", "sh", o.image, "-c", "npm --version"]).catch(() => undefined);
  if (!npm) throw new Error(`the builder image ${o.image} has no npm: make the base image again (bash scripts/make-base-image.sh), then remove the builder image (docker image rm ${o.image}) so that it is built again`);
  const served = path.join(o.dir, "served");
  mkdirSync(served, { recursive: true });
  await createProject(path.join(served, "app.git"), path.join(o.dir, "app-work"));
  // Builder containers reach it through the bridge; the floor clones on the host.
  const server = await startGitHttpServer({ root: served, host: "0.0.0.0" });
  o.cleanup.add("stop the real project's git server", () => server.close());
  const port = new URL(server.origin).port;
  const remote = `http://host.docker.internal:${port}/app.git`;

  const target = (name: string) => ({
    name, url: remote, commands: COMMANDS, artifacts: ["dist/index.js"], timeout: "10m",
    cache: ["/cache/npm"], env: { ...NPM_ENV, npm_config_cache: "/cache/npm" }, caCertificates: ca,
  });
  const names = ["warm", ...Array.from({ length: o.rounds }, (_, i) => `cold${i + 1}`)];
  const config = benchConfig(o.dir, "bench/real-project.ts", { host: "0.0.0.0", concurrency: 1, targets: names.map(target) });
  const token = "bench-api-token-0123456789";
  const executor = createExecutor("docker", { logger: o.logger.child("executor"), instance: o.instance });
  const cicd = await startServer({ config, executor, logger: o.logger, env: { CICD_API_TOKEN: token } });
  o.cleanup.add("stop the real project's server", () => cicd.close(0));
  const client = new CicdClient({ baseUrl: cicd.url, token });
  const build = async (name: string) => {
    const { key } = await client.triggerBuild(name);
    const done = await cicd.manager.waitFor(key, (b) => FINAL_STATUSES.includes(b.status), 600_000);
    if (done.status !== "succeeded") throw new Error(`real project: ${name} build ${key} ended ${done.status}: ${done.reason ?? ""} (log: ${cicd.manager.logPath(key)})`);
  };

  const floorOnce = async () => {
    const work = path.join(o.dir, `floor-${Date.now()}`);
    try {
      await run("git", ["clone", "-q", `${server.origin}/app.git`, work]);
      const env = Object.entries({ ...NPM_ENV, NODE_EXTRA_CA_CERTS: "/etc/cicd-ca.pem" }).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
      await run("docker", ["run", "--rm", "--label", o.label, "-v", `${work}:/workspace`, "-v", `${ca}:/etc/cicd-ca.pem:ro`, ...env, "-w", "/workspace", "--entrypoint", "sh", o.image, "-c", COMMANDS.join(" && ")], { maxBuffer: 64 * 1024 * 1024 });
      if (!existsSync(path.join(work, "dist", "index.js"))) throw new Error("floor: the real project's dist/index.js is missing");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };

  const floor: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  await build("warm"); // fills the warm target's npm cache and git mirror
  for (let i = 0; i < o.rounds; i++) {
    floor.push((await timed(floorOnce)).ms);
    cold.push((await timed(() => build(`cold${i + 1}`))).ms);
    warm.push((await timed(() => build("warm"))).ms);
  }
  await cicd.close(0);
  await server.close();
  const [f, c, w] = [median(floor), median(cold), median(warm)];
  const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
  return [
    `bench: real-project (TypeScript, npm ci + tsc + node --test; median of ${o.rounds}) floor=${s(f)} cicd cold=${s(c)} cicd warm=${s(w)}`,
    `bench: real-project warm/cold=${(w / c).toFixed(2)} ${verdict(w / c <= 0.4, "≤ 0.40")} warm/floor=${(w / f).toFixed(2)} ${verdict(w / f <= 0.4, "≤ 0.40")} cold/floor=${(c / f).toFixed(2)}`,
  ];
}

/**
 * The project: a small library on zod and yaml, compiled by TypeScript and tested with
 * node --test; its package-lock.json is made here with the host's npm (the versions are the
 * ones this repository uses, so the registry surely has them).
 */
async function createProject(bare: string, work: string): Promise<void> {
  const version = (name: string) => (JSON.parse(readFileSync(path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  mkdirSync(path.join(work, "src"), { recursive: true });
  const files: Record<string, string> = {
    "package.json": JSON.stringify({
      name: "bench-app", version: "1.0.0", private: true, type: "module",
      scripts: { build: "tsc -p .", test: "node --test dist/" },
      dependencies: { zod: version("zod"), yaml: version("yaml") },
      devDependencies: { typescript: version("typescript"), "@types/node": version("@types/node") },
    }, null, 2),
    "tsconfig.json": JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, outDir: "dist", rootDir: "src", types: ["node"], skipLibCheck: true } }, null, 2),
    ".gitignore": "node_modules/\ndist/\n",
    "src/index.ts": [
      'import { parse } from "yaml";',
      'import { z } from "zod";',
      "export const Settings = z.object({ name: z.string().min(1), replicas: z.number().int().positive() });",
      "export function readSettings(text: string): z.infer<typeof Settings> {",
      "  return Settings.parse(parse(text));",
      "}",
      "",
    ].join("\n"),
    "src/index.test.ts": [
      'import { strict as assert } from "node:assert";',
      'import { test } from "node:test";',
      'import { readSettings } from "./index.js";',
      'test("reads settings", () => assert.deepEqual(readSettings("name: app\\nreplicas: 2\\n"), { name: "app", replicas: 2 }));',
      'test("refuses bad settings", () => assert.throws(() => readSettings("name: \\"\\"\\nreplicas: 0\\n")));',
      "",
    ].join("\n"),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(work, name), text);
  await run("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: work, env: { ...process.env, ...NPM_ENV } });
  await git(path.dirname(bare), "init", "-q", "--bare", "--initial-branch=main", bare);
  await git(work, "init", "-q", "--initial-branch=main");
  await git(work, "add", "-A");
  await git(work, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "the real project");
  await git(work, "push", "-q", bare, "HEAD:refs/heads/main");
}
