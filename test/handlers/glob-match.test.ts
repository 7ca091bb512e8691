import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectArtifacts } from "../../src/builder/collect-artifacts.js";
import { globMatches } from "../../src/handlers/match-targets.js";
import { isCicdError } from "../../src/shared/errors.js";
import { writeFiles } from "../helpers/git-repos.js";

/** Branch names that can live side by side in git (no name is a folder of another). */
const names = ["main", "dev", "develop", "v1.0", "v2", "vx", "release/1.2", "release/2.0/hotfix", "feature/a.b", "ma{in", "main,dev"];

describe("one glob dialect for branches and artifacts", () => {
  let workspace: string;
  beforeAll(async () => {
    workspace = await mkdtemp(path.join(tmpdir(), "cicd-globs-"));
    await writeFiles(workspace, Object.fromEntries(names.map((n) => [n, n])));
  });
  afterAll(async () => rm(workspace, { recursive: true, force: true }));

  /** What `artifacts: [pattern]` collects, as names relative to the workspace. */
  async function artifacts(pattern: string): Promise<string[]> {
    try {
      const root = await realpath(workspace);
      return (await collectArtifacts(workspace, [pattern])).map((f) => path.relative(root, f)).sort();
    } catch (error) {
      if (isCicdError(error, "ARTIFACT_NOT_FOUND")) return [];
      throw error;
    }
  }
  const branches = (pattern: string) => names.filter((n) => globMatches(pattern, n)).sort();

  it.each([
    ["release/*", ["release/1.2"]],
    ["**", [...names].sort()],
    ["release/**", ["release/1.2", "release/2.0/hotfix"]],
    ["{main,dev}", ["dev", "main"]],
    ["v[0-9]*", ["v1.0", "v2"]],
    ["v1.*", ["v1.0"]],
    ["dev?*", ["develop"]],
    ["main", ["main"]],
  ])("%s matches the same names in branches and artifacts", async (pattern, expected) => {
    expect(branches(pattern)).toEqual(expected);
    expect(await artifacts(pattern)).toEqual(expected);
  });
});
