import { chmod, mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newBuildKey } from "../../src/builder/build-key.js";
import { runBuild } from "../../src/builder/run-build.js";
import { createRepo, git, tempDir, type TestRepo } from "../helpers/git-repos.js";

const HOOKS = ["reference-transaction", "post-checkout", "post-merge", "pre-auto-gc", "post-rewrite"];

/**
 * A mirror a build could once write to: hooks planted in it, and a config pointing git at a
 * hooks folder and a file-system monitor of the attacker's. The builder's git runs none of them.
 */
describe("a git mirror with planted hooks", () => {
  let root: { dir: string; cleanup(): Promise<void> };
  let repo: TestRepo;
  const marker = () => path.join(root.dir, "hook-ran");

  beforeAll(async () => {
    root = await tempDir("cicd-mirror-hooks-");
    repo = await createRepo({ files: { "build.sh": { content: "#!/bin/sh\nmkdir -p dist && echo one > dist/app.txt\n", mode: 0o755 } } });
  });
  afterAll(async () => {
    await repo?.cleanup();
    await root?.cleanup();
  });

  const build = () =>
    runBuild(
      { key: newBuildKey(), target: "app", url: `file://${repo.bare}`, commands: ["./build.sh"], artifacts: ["dist/*"] },
      { servicefs: path.join(root.dir, "servicefs"), workdir: path.join(root.dir, "work"), gitCache: { mirrorDir: path.join(root.dir, "mirror") }, out: () => undefined },
    );

  it("never runs them while fetching the next build through the mirror", async () => {
    expect((await build()).ok).toBe(true);
    const mirror = path.join(root.dir, "mirror", "mirror.git");
    const evil = path.join(root.dir, "evil-hooks");
    await mkdir(evil, { recursive: true });
    const script = `#!/bin/sh\necho "$0" >> ${marker()}\n`;
    for (const dir of [path.join(mirror, "hooks"), evil]) {
      for (const hook of HOOKS) {
        await writeFile(path.join(dir, hook), script);
        await chmod(path.join(dir, hook), 0o755);
      }
    }
    await writeFile(path.join(evil, "monitor"), script);
    await chmod(path.join(evil, "monitor"), 0o755);
    await git(root.dir, "--git-dir", mirror, "config", "core.hooksPath", evil);
    await git(root.dir, "--git-dir", mirror, "config", "core.fsmonitor", path.join(evil, "monitor"));

    await repo.commit({ "build.sh": { content: "#!/bin/sh\nmkdir -p dist && echo two > dist/app.txt\n", mode: 0o755 } });
    const second = await build();
    expect(second.reason).toBeUndefined();
    expect(second.ok).toBe(true);
    await expect(stat(marker())).rejects.toThrow();
  });
});
