import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { runBuild, type BuildOutcome, type BuildSpec } from "../../src/builder/run-build.js";
import { newBuildKey } from "../../src/builder/build-key.js";
import { ServiceFs } from "../../src/servicefs/service-fs.js";
import type { BuildsDocument } from "../../src/servicefs/builds-file.js";
import { tempDir } from "../helpers/git-repos.js";

/** A builder's surroundings in a temp folder: servicefs, workdir, log dir, captured console. */
export interface Bench {
  dir: string;
  servicefs: string;
  workdir: string;
  logDir: string;
  build(spec: Partial<BuildSpec> & Pick<BuildSpec, "url">): Promise<BuildOutcome & { console: string; log: string }>;
  builds(target?: string): Promise<BuildsDocument>;
  /** Names in servicefs/<target>/ except builds.json and lock files. */
  files(target?: string): Promise<string[]>;
  /** Entries left in the workdir besides the logs folder (should be none after a build). */
  leftovers(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function createBench(): Promise<Bench> {
  const { dir, cleanup } = await tempDir("cicd-bench-");
  const servicefs = path.join(dir, "servicefs");
  const workdir = path.join(dir, "work");
  const logDir = path.join(dir, "logs");
  return {
    dir,
    servicefs,
    workdir,
    logDir,
    async build(partial) {
      const spec: BuildSpec = { key: newBuildKey(), target: "hello", commands: ["true"], artifacts: ["**/*"], ...partial };
      let console = "";
      const outcome = await runBuild(spec, { servicefs, workdir, logDir, out: (t) => void (console += t) });
      const log = await readFile(outcome.logFile!, "utf8");
      return { ...outcome, console, log };
    },
    builds: (target = "hello") => new ServiceFs(servicefs).builds(target).read(),
    async files(target = "hello") {
      const names = await readdir(path.join(servicefs, target)).catch(() => [] as string[]);
      return names.filter((n) => n !== "builds.json" && !n.startsWith(".")).sort();
    },
    async leftovers() {
      return (await readdir(workdir).catch(() => [] as string[])).filter((n) => n !== "cicd-logs");
    },
    cleanup,
  };
}

/** A build script that writes dist/app-1.0.jar with `text`, as many real projects do. */
export function jarScript(text = "jar-content"): { content: string; mode: number } {
  return { content: `#!/bin/sh\nset -e\nmkdir -p dist\nprintf '%s' '${text}' > dist/app-1.0.jar\n`, mode: 0o755 };
}
