import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/images.js";
import { createRepo, type TestRepo } from "../helpers/git-repos.js";
import { createBench, type Bench } from "./harness.js";
import { startEventSink } from "./event-sink.js";

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cicd <args>` from the sources, as `npx cicd` would after a build. */
function cicd(script: string, args: string[], env: Record<string, string> = {}, onStdout?: (text: string) => void): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      onStdout?.(c);
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("cicd builder on the command line", () => {
  let bench: Bench;
  let repo: TestRepo;
  let cliScript: string;
  const workload = path.join(projectRoot, "src/workload-cli.ts");

  beforeAll(async () => {
    bench = await createBench();
    repo = await createRepo({
      name: "hello.git",
      files: { "build.sh": "mkdir -p dist\necho \"built $CICD_COMMIT\" > dist/app-1.0.jar\necho building with $DB_PASSWORD\n" },
    });
    // src/cli.ts exports main(); bin/cicd.js calls it from dist/. This calls it from the source.
    cliScript = path.join(bench.dir, "cicd-from-source.mjs");
    await writeFile(cliScript, `import { main } from ${JSON.stringify(path.join(projectRoot, "src/cli.ts"))};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  });
  afterAll(async () => {
    await repo.cleanup();
    await bench.cleanup();
  });

  it("builds at once with --run-on-startup, publishes app-1.0-<timestamp>.jar and records it as good", async () => {
    const secrets = path.join(bench.dir, "hello.env");
    await writeFile(secrets, "# the database\nexport DB_PASSWORD='pa55-w0rd-xyz'\n");
    const servicefs = path.join(bench.dir, "x");
    const ran = await cicd(cliScript, [
      "builder", "--url", `file://${repo.bare}`, "--command", "sh build.sh", "--artifact", "dist/*.jar",
      "--servicefs", servicefs, "--target", "hello", "--run-on-startup", "--secrets", secrets, "--workdir", bench.workdir,
    ]);
    expect(ran.stderr).not.toContain("pa55-w0rd-xyz");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain("$ sh build.sh");
    expect(ran.stdout).toContain("building with ***");
    expect(ran.stdout).not.toContain("pa55-w0rd-xyz");
    const doc = JSON.parse(await readFile(path.join(servicefs, "hello", "builds.json"), "utf8"));
    expect(doc.target).toBe("hello");
    expect(doc.builds).toHaveLength(1);
    const [build] = doc.builds;
    expect(build.status).toBe("good");
    expect(build.artifacts).toHaveLength(1);
    expect(build.artifacts[0]).toMatch(/^app-1\.0-\d{8}T\d{9}Z\.jar$/);
    expect(await readFile(path.join(servicefs, "hello", build.artifacts[0]), "utf8")).toBe(`built ${build.commit}\n`);
    const log = await readFile(path.join(bench.workdir, "cicd-logs", `${build.key}.log`), "utf8");
    expect(log).toContain("building with ***");
  });

  it("exits 1 when the build fails and 2 on bad flags, saying what is wrong", async () => {
    const [failed, bad, missing, help] = await Promise.all([
      cicd(workload, [
        "builder", "--url", `file://${repo.bare}`, "--command", "exit 4", "--artifact", "x", "--servicefs", path.join(bench.dir, "y"),
        "--target", "hello", "--run-on-startup", "--workdir", bench.workdir,
      ]),
      cicd(workload, ["builder", "--servicefs", "/tmp", "--colour", "red"]),
      cicd(workload, ["builder", "--servicefs", "/tmp", "--run-on-startup"]),
      cicd(workload, ["builder", "--help"]),
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("Command 1 failed (exit code 4)");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("cicd builder:");
    expect(bad.stderr).toContain("--colour");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Expected `--url` to be a source URL with --run-on-startup");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--run-on-startup");
  });

  it("serves one build with --once, announcing its port to the manager, taking the token from env only", async () => {
    const token = "manager-secret-token-42";
    const sink = await startEventSink({ token });
    try {
      const running = cicd(workload, ["builder", "--once", "--port", "0", "--host", "127.0.0.1", "--workdir", bench.workdir], {
        CICD_SERVICEFS: bench.servicefs,
        CICD_MANAGER_URL: sink.url,
        CICD_MANAGER_TOKEN: token,
        CICD_BUILDER_ID: "builder-cli",
      });
      const [ready] = await sink.waitFor(1);
      if (ready?.type !== "ready") throw new Error("expected ready first");
      expect(ready.builderId).toBe("builder-cli");
      const answer = await fetch(`http://127.0.0.1:${ready.port}/build`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ key: "cli-once-1", target: "served", url: `file://${repo.bare}`, commands: ["sh build.sh"], artifacts: ["dist/*.jar"], meta: { trigger: "api", status: "bad" } }),
      });
      expect(answer.status).toBe(202);
      const ran = await running;
      expect(ran.code).toBe(0);
      expect(sink.events.map((e) => e.type)).toEqual(["ready", "started", "success"]);
      const doc = JSON.parse(await readFile(path.join(bench.servicefs, "served", "builds.json"), "utf8"));
      // meta is kept, but cannot overwrite the record's own fields.
      expect(doc.builds[0]).toMatchObject({ key: "cli-once-1", status: "good", trigger: "api" });
      expect(ran.stdout + ran.stderr).not.toContain(token);
    } finally {
      await sink.close();
    }
  });
});
