/**
 * One-way imports, enforced: reads every import of every file under src/ (static, dynamic
 * `import(…)`, `export … from`, `import("…")` types; type-only imports count too, since they
 * still tie the folders), resolves it to a part of src/ and checks it against PARTS, the table
 * of docs/architecture.md "Parts and folders" (test/architecture/imports.test.ts checks that the
 * two agree). Also reports every cycle between parts, and packages a part must not import.
 *
 *   npx tsx scripts/check-imports.ts [SRC_DIR]
 *
 * Prints one line per violation and exits 1, or exits 0 when the tree is clean.
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export interface PartRule {
  /**
   * What the part may import of ours: a part (`shared`) or one file of a part
   * (`manager/types.ts`: that file only). Empty: nothing of ours. `"*"`: everything.
   */
  mayImport: readonly string[] | "*";
  /** Packages the part must not import (a name, or a prefix and `*`: `@octokit/*`, `node:*`). */
  forbiddenPackages?: readonly string[];
  /** When set, the only packages the part may import (`node:*` for Node's built-ins). */
  onlyPackages?: readonly string[];
}

/**
 * Code that runs inside containers (builder/, runner/ and what they import) never loads the
 * server's packages: they are not in the image, and they would cost memory and start-up time.
 */
const CONTAINER_SAFE = ["express", "probot", "better-sqlite3", "@octokit/*", "dockerode"];

/** The parts of src/ and what each may import: the same table as docs/architecture.md. */
export const PARTS: Readonly<Record<string, PartRule>> = {
  shared: { mayImport: [], forbiddenPackages: CONTAINER_SAFE },
  config: { mayImport: ["shared"], forbiddenPackages: CONTAINER_SAFE },
  servicefs: { mayImport: ["shared"], forbiddenPackages: CONTAINER_SAFE },
  builder: { mayImport: ["shared", "servicefs"], forbiddenPackages: CONTAINER_SAFE },
  runner: { mayImport: ["shared", "servicefs"], forbiddenPackages: CONTAINER_SAFE },
  // The one part that talks to Docker (dockerode); every other part reaches it through the Executor contract.
  executor: { mayImport: ["shared"] },
  store: { mayImport: ["shared"], forbiddenPackages: ["dockerode"] },
  manager: { mayImport: ["shared", "config", "servicefs", "store", "executor", "runner/runner-state.ts"], forbiddenPackages: ["dockerode"] },
  github: { mayImport: ["shared", "config", "manager/types.ts"], forbiddenPackages: ["dockerode"] },
  handlers: { mayImport: ["shared", "config", "manager/types.ts", "github"], forbiddenPackages: ["dockerode"] },
  webhooks: { mayImport: ["shared", "config", "manager/types.ts", "github", "handlers"], forbiddenPackages: ["dockerode"] },
  api: { mayImport: ["shared", "config", "manager", "servicefs"], forbiddenPackages: ["dockerode"] },
  metrics: { mayImport: ["shared", "config", "manager/types.ts"], forbiddenPackages: ["dockerode"] },
  notify: { mayImport: ["shared", "config", "manager/types.ts"], forbiddenPackages: ["dockerode"] },
  client: { mayImport: ["shared"], onlyPackages: ["node:*", "zod"] },
  "cli-commands": { mayImport: ["client", "shared"], onlyPackages: ["node:*"] },
  dashboard: { mayImport: ["shared", "config", "manager/manager.ts", "manager/types.ts", "manager/runners.ts", "servicefs", "store/session-store.ts"], forbiddenPackages: ["dockerode"] },
  server: { mayImport: "*", forbiddenPackages: ["dockerode"] },
  "cli.ts": { mayImport: ["server/main.ts", "builder/main.ts", "runner/main.ts", "manager/gc-main.ts", "cli-commands/main.ts"], onlyPackages: ["node:*"] },
  "index.ts": { mayImport: ["client", "config", "servicefs", "shared"], forbiddenPackages: ["dockerode"] },
  "workload-cli.ts": { mayImport: ["builder/main.ts", "runner/main.ts"], forbiddenPackages: CONTAINER_SAFE },
};

export interface ImportSite {
  /** Importing file, relative to the source root (`store/build-store.ts`). */
  from: string;
  line: number;
  specifier: string;
  typeOnly: boolean;
}

/** Every module specifier a file names, with its line. */
export function importsOf(file: string, text: string): Omit<ImportSite, "from">[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Omit<ImportSite, "from">[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return;
    found.push({ specifier: specifier.text, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], false);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The part a file (relative to the source root) belongs to: its first folder, or the root file itself. */
export function partOf(relative: string): string {
  return relative.split("/")[0]!;
}

/** What an import names: a file of ours (relative to the root), a package, or a file outside the root. */
type Target = { kind: "ours"; file: string } | { kind: "package"; name: string } | { kind: "outside"; file: string };

function resolve(root: string, from: string, specifier: string): Target {
  if (specifier.startsWith(".") || specifier.startsWith("/")) {
    const absolute = path.resolve(path.dirname(path.join(root, from)), specifier);
    // Sources import their siblings by the compiled name (NodeNext): ./x.js is ./x.ts.
    const file = path.relative(root, absolute).split(path.sep).join("/").replace(/\.(m|c)?js$/, ".$1ts");
    return file.startsWith("../") || path.isAbsolute(file) ? { kind: "outside", file } : { kind: "ours", file };
  }
  if (specifier.startsWith("node:") || builtinModules.includes(specifier.split("/")[0]!)) return { kind: "package", name: `node:${specifier.replace(/^node:/, "")}` };
  const parts = specifier.split("/");
  return { kind: "package", name: specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]! };
}

function allows(rule: PartRule, file: string): boolean {
  if (rule.mayImport === "*") return true;
  return rule.mayImport.some((entry) => (entry.endsWith(".ts") ? file === entry : partOf(file) === entry));
}

function packageMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function sourceFiles(root: string, dir = ""): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return sourceFiles(root, relative);
    return /\.(m|c)?ts$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [relative] : [];
  });
}

export interface Report {
  violations: string[];
  /** Every import between two different parts (for cycles and for the report). */
  edges: { from: string; to: string; site: string }[];
}

/** Checks every file under `root` (a src/ folder) against `parts`. */
export function checkImports(root: string, parts: Readonly<Record<string, PartRule>> = PARTS): Report {
  const violations: string[] = [];
  const edges: Report["edges"] = [];
  const files = sourceFiles(root).sort();
  for (const from of files) {
    const part = partOf(from);
    const rule = parts[part];
    if (!rule) {
      violations.push(`src/${from}: ${part} is not a part of the import table (scripts/check-imports.ts PARTS, docs/architecture.md)`);
      continue;
    }
    for (const site of importsOf(from, readFileSync(path.join(root, from), "utf8"))) {
      const where = `src/${from}:${site.line}`;
      const target = resolve(root, from, site.specifier);
      if (target.kind === "outside") {
        violations.push(`${where}: imports ${site.specifier}, outside src/ (not in the published package)`);
      } else if (target.kind === "package") {
        const forbidden = rule.forbiddenPackages?.find((p) => packageMatches(p, target.name));
        if (forbidden) violations.push(`${where}: ${part} must not import the package ${target.name}`);
        else if (rule.onlyPackages && !rule.onlyPackages.some((p) => packageMatches(p, target.name))) {
          violations.push(`${where}: ${part} may import only the packages ${rule.onlyPackages.join(", ")}, not ${target.name}`);
        }
      } else {
        const to = partOf(target.file);
        if (to === part) continue;
        edges.push({ from: part, to, site: `${where} → ${target.file}` });
        if (!allows(rule, target.file)) {
          const may = rule.mayImport === "*" ? "everything" : rule.mayImport.length ? rule.mayImport.join(", ") : "nothing of ours";
          violations.push(`${where}: ${part} must not import ${target.file}${site.typeOnly ? " (type-only imports count too)" : ""}; it may import ${may}`);
        }
      }
    }
  }
  for (const cycle of cyclesOf(edges)) violations.push(`cycle: ${cycle.path.join(" → ")} (${cycle.sites.join("; ")})`);
  return { violations, edges };
}

/**
 * Every elementary cycle of the graph of parts, each once (written from its smallest part), with
 * one import that makes each of its steps. There are a dozen parts, so a plain search will do.
 */
export function cyclesOf(edges: Report["edges"]): { path: string[]; sites: string[] }[] {
  const next = new Map<string, Map<string, string>>();
  for (const e of edges) {
    const out = next.get(e.from) ?? new Map<string, string>();
    if (!out.has(e.to)) out.set(e.to, e.site);
    next.set(e.from, out);
  }
  const cycles: { path: string[]; sites: string[] }[] = [];
  const nodes = [...next.keys()].sort();
  for (const start of nodes) {
    // Only cycles whose smallest part is `start`: each cycle is found once.
    const walk = (node: string, trail: string[]): void => {
      for (const [to] of [...(next.get(node) ?? new Map<string, string>())].sort()) {
        if (to === start) {
          const path = [...trail, start];
          cycles.push({ path, sites: path.slice(0, -1).map((p, i) => next.get(p)!.get(path[i + 1]!)!) });
        } else if (to > start && !trail.includes(to)) walk(to, [...trail, to]);
      }
    };
    walk(start, [start]);
  }
  return cycles;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src"));
  const { violations } = checkImports(root);
  for (const line of violations) console.log(line);
  if (violations.length) console.error(`${violations.length} import violation(s); the table is in docs/architecture.md "Parts and folders".`);
  process.exit(violations.length ? 1 : 0);
}
