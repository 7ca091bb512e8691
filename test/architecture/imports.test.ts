import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkImports, importsOf, PARTS, type PartRule } from "../../scripts/check-imports.js";

const repo = path.resolve(import.meta.dirname, "../..");
const script = path.join(repo, "scripts/check-imports.ts");
const tsx = path.join(repo, "node_modules/.bin/tsx");

/** Runs the script as `npm run check` will: its output and exit code. */
function runScript(root: string): { code: number | null; lines: string[] } {
  const run = spawnSync(tsx, [script, root], { encoding: "utf8" });
  return { code: run.status, lines: run.stdout.split("\n").filter(Boolean) };
}

/** The table of docs/architecture.md "Parts and folders", read back into the script's form. */
function documentedParts(): Record<string, PartRule> {
  const doc = readFileSync(path.join(repo, "docs/architecture.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Parts and folders"), doc.indexOf("\n## ", doc.indexOf("## Parts and folders") + 1));
  const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const parts: Record<string, PartRule> = {};
  for (const row of section.split("\n").filter((l) => l.startsWith("| `src/"))) {
    const [folder, , may, packages] = row.split(" | ").map((c) => c.replace(/^\| |\s*\|$/g, "").trim());
    const part = folder!.replace(/^`src\/|\/?`$/g, "");
    const rule: PartRule = { mayImport: may === "everything" ? "*" : may === "nothing of ours" ? [] : names(may!) };
    if (packages!.startsWith("all but ")) rule.onlyPackages = names(packages!);
    else if (names(packages!).length) rule.forbiddenPackages = names(packages!);
    parts[part] = rule;
  }
  return parts;
}

describe("the import table", () => {
  it("is the same in scripts/check-imports.ts and docs/architecture.md", () => {
    const normalise = (parts: Readonly<Record<string, PartRule>>) =>
      Object.fromEntries(Object.entries(parts).map(([k, r]) => [k, { mayImport: r.mayImport === "*" ? "*" : [...r.mayImport].sort(), forbiddenPackages: [...(r.forbiddenPackages ?? [])].sort(), onlyPackages: [...(r.onlyPackages ?? [])].sort() }]));
    expect(normalise(documentedParts())).toEqual(normalise(PARTS));
  });
});

describe("check-imports on a fixture tree", () => {
  const root = mkdtempSync(path.join(tmpdir(), "cicd-imports-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  // A clean chain, then a cycle (manager → store → manager, the store's side type-only) and a
  // builder that pulls in express, written every way an import can be.
  write("shared/errors.ts", `export const x = 1;\n`);
  write("config/load.ts", `import { x } from "../shared/errors.js";\nexport const y = x;\n`);
  write("store/build-store.ts", `import { z } from "zod";\n\nimport type { Build } from "../manager/types.js";\nexport type B = Build;\nexport const s = z;\n`);
  write("manager/types.ts", `export interface Build { key: string }\n`);
  write("manager/manager.ts", `export { type B } from "../store/build-store.js";\n`);
  write("builder/main.ts", `import { x } from "../shared/errors.js";\nexport async function main() {\n  const express = await import("express");\n  return [x, express];\n}\n`);
  write("client/index.ts", `import { readFile } from "node:fs/promises";\nexport type T = typeof import("../manager/types.js");\nexport const r = readFile;\n`);

  it("reports the cycle, the forbidden package and the forbidden part, each on one line, and exits 1", () => {
    const { code, lines } = runScript(root);
    expect(code).toBe(1);
    expect(lines).toEqual([
      "src/builder/main.ts:3: builder must not import the package express",
      "src/client/index.ts:2: client must not import manager/types.ts (type-only imports count too); it may import shared",
      "src/store/build-store.ts:3: store must not import manager/types.ts (type-only imports count too); it may import shared",
      "cycle: manager → store → manager (src/manager/manager.ts:1 → store/build-store.ts; src/store/build-store.ts:3 → manager/types.ts)",
    ]);
  });

  it("exits 0 on a clean tree", () => {
    const clean = mkdtempSync(path.join(tmpdir(), "cicd-imports-clean-"));
    try {
      mkdirSync(path.join(clean, "shared"));
      mkdirSync(path.join(clean, "config"));
      writeFileSync(path.join(clean, "shared/a.ts"), `export const a = 1;\n`);
      writeFileSync(path.join(clean, "config/b.ts"), `import { a } from "../shared/a.js";\nexport const b = a;\n`);
      expect(runScript(clean)).toEqual({ code: 0, lines: [] });
    } finally {
      rmSync(clean, { recursive: true, force: true });
    }
  });

  it("sees every form of import", () => {
    const text = [
      `import a from "./a.js";`,
      `import type { B } from "./b.js";`,
      `import { type C } from "./c.js";`,
      `export * from "./d.js";`,
      `export type { E } from "./e.js";`,
      `const f = await import("./f.js");`,
      `type G = import("./g.js").G;`,
      `import "./h.js";`,
    ].join("\n");
    expect(importsOf("x.ts", text).map((i) => `${i.specifier}${i.typeOnly ? " (type)" : ""}`)).toEqual([
      "./a.js", "./b.js (type)", "./c.js", "./d.js", "./e.js (type)", "./f.js", "./g.js (type)", "./h.js",
    ]);
  });

  it("reports a file of a part the table does not know", () => {
    const odd = mkdtempSync(path.join(tmpdir(), "cicd-imports-odd-"));
    try {
      mkdirSync(path.join(odd, "plugins"));
      writeFileSync(path.join(odd, "plugins/mount.ts"), `export const m = 1;\n`);
      expect(checkImports(odd).violations).toEqual(["src/plugins/mount.ts: plugins is not a part of the import table (scripts/check-imports.ts PARTS, docs/architecture.md)"]);
    } finally {
      rmSync(odd, { recursive: true, force: true });
    }
  });
});

/**
 * What the real tree breaks today, until the lead's moves land (issue 11, point 2): the types
 * the store keeps move to shared/, webhook mounting moves out of github/. Each move empties its
 * lines here; once empty the tree is clean and `npm run check` runs the script.
 */
describe("check-imports on src/", () => {
  it("finds no violation and no cycle: every import runs one way", () => {
    expect(checkImports(path.join(repo, "src")).violations).toEqual([]);
  });
});
