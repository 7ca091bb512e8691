import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";

/** A target for `targets:` of a test's cicd.yml: `artifacts` default to one that need not exist. */
export function testTarget(name: string, target: Record<string, unknown>): Record<string, unknown> {
  return { name, artifacts: ["x"], ...target };
}

/**
 * Writes `document` as a cicd.yml into a fresh temporary folder (named after `prefix`), or into
 * `dir`, for tests that start `cicd server` or load the file. Returns the folder and the file.
 */
export function writeConfigFile(document: Record<string, unknown>, options: { prefix?: string; dir?: string } = {}): { dir: string; file: string } {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), options.prefix ?? "cicd-config-"));
  const file = path.join(dir, "cicd.yml");
  writeFileSync(file, `# written by the test\n${stringify(document)}`);
  return { dir, file };
}
