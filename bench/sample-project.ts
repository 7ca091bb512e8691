import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface SampleProject {
  /** Folder of the git repository (a normal clone with a work tree). */
  dir: string;
  /** `file://` URL of it, for cicd's target and for the floor's `git clone`. */
  url: string;
  commands: string[];
  artifacts: string[];
  /** Number of commits in its history. */
  commits: number;
}

const buildScript = `#!/bin/sh
# The sample service's build: about 150 ms of work, then one .jar-like file in dist/.
set -eu
sleep 0.15
mkdir -p dist
{
  echo "sample-app 1.0"
  cat src/Main.java
  dd if=/dev/zero bs=1024 count=256 2>/dev/null
} > dist/app-1.0.jar
echo "built dist/app-1.0.jar"
`;

/**
 * Writes the benchmark's sample project into `dir` as a real git repository (branch `main`,
 * `commits` commits): a build script that does ~150 ms of work and produces
 * `dist/app-1.0.jar` (about 256 KiB). The same repository is built by the floor and by cicd.
 */
export function createSampleProject(dir: string, commits = 20): SampleProject {
  mkdirSync(path.join(dir, "src"), { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false", ...args], { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  writeFileSync(path.join(dir, "build.sh"), buildScript, { mode: 0o755 });
  writeFileSync(path.join(dir, ".gitignore"), "dist/\n");
  for (let i = 1; i <= commits; i++) {
    writeFileSync(
      path.join(dir, "src", "Main.java"),
      `public class Main {\n  // revision ${i}\n  public static void main(String[] args) { System.out.println("hello ${i}"); }\n}\n`,
    );
    git("add", "-A");
    git("commit", "-q", "-m", `revision ${i}`);
  }
  return { dir, url: `file://${dir}`, commands: ["sh build.sh"], artifacts: ["dist/*.jar"], commits };
}
