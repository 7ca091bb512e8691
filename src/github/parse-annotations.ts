/** A check-run annotation as GitHub's API takes it. */
export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: "notice" | "warning" | "failure";
  message: string;
  title?: string;
}

interface Found {
  path: string;
  line: string;
  col?: string;
  level?: string;
  message: string;
  title?: string;
}

// One expression per tool family. Paths must end in a file extension so that URLs, times
// (12:30:45) and prose with colons do not read as locations.
const PATH = String.raw`(?<path>[^\s:()[\]]+\.[A-Za-z0-9]+)`;
const lineParsers: RegExp[] = [
  // tsc: src/a.ts(3,5): error TS2322: Type 'string' is not assignable …
  new RegExp(String.raw`^${PATH}\((?<line>\d+),(?<col>\d+)\): (?<level>error|warning) (?<title>TS\d+): (?<message>.+)$`),
  // maven compiler: [ERROR] /workspace/src/main/java/App.java:[12,5] cannot find symbol
  new RegExp(String.raw`^\[(?<level>ERROR|WARNING)\] ${PATH}:\[(?<line>\d+),(?<col>\d+)\] (?<message>.+)$`),
  // gcc, clang, go, rustc-short, many linters: file:12:5: error: message (level optional)
  new RegExp(String.raw`^${PATH}:(?<line>\d+):(?<col>\d+): (?:(?<level>fatal error|error|warning|note|info):\s*)?(?<message>.+)$`),
  // javac and gcc without a column: File.java:12: error: message
  new RegExp(String.raw`^${PATH}:(?<line>\d+): (?<level>error|warning):\s*(?<message>.+)$`),
  // go test failures: "    foo_test.go:12: expected 1, got 2"
  /^\s+(?<path>[\w./-]+_test\.go):(?<line>\d+): (?<message>.+)$/,
];
// eslint "stylish": a line holding only a file path, then "  3:5  error  message  rule".
const eslintHeader = /^(?<path>\/?[^\s:]+\.[A-Za-z0-9]+)$/;
const eslintItem = /^\s+(?<line>\d+):(?<col>\d+)\s+(?<level>error|warning)\s+(?<message>.+?)(?:\s{2,}(?<title>[\w@/-]+))?$/;
// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** `text` without ANSI escape sequences (colours, cursor moves). */
export function stripAnsi(text: string): string {
  return text.replace(ansi, "");
}

/**
 * Finds compiler, test and linter findings in build output: gcc/clang/go (`file:line:col: …`),
 * javac (`File.java:12: error: …`), maven, tsc (`file(line,col): error TS…`) and eslint's
 * stylish format. Paths are made relative to the workspace: everything up to a `/workspace/`
 * segment and any of `prefixes` is removed. Duplicates are dropped; at most `max` are returned.
 */
export function parseAnnotations(log: string, options: { prefixes?: string[]; max?: number } = {}): Annotation[] {
  const max = options.max ?? 200;
  const prefixes = (options.prefixes ?? []).map((p) => p.replace(/\/+$/, "")).filter(Boolean).sort((a, b) => b.length - a.length);
  const out: Annotation[] = [];
  const seen = new Set<string>();
  let eslintFile: string | undefined;
  for (const raw of log.split("\n")) {
    if (out.length >= max) break;
    const text = stripAnsi(raw).replace(/\r$/, "");
    let found: Found | undefined;
    const item = eslintFile ? eslintItem.exec(text) : null;
    if (item?.groups && eslintFile) {
      found = { path: eslintFile, ...(item.groups as Omit<Found, "path">) };
    } else {
      eslintFile = eslintHeader.exec(text.trim() === text ? text : "")?.groups?.path;
      for (const parser of lineParsers) {
        const m = parser.exec(text.trimEnd());
        if (m?.groups) {
          found = m.groups as unknown as Found;
          break;
        }
      }
    }
    if (!found) continue;
    const annotation = toAnnotation(found, prefixes);
    const id = `${annotation.path}:${annotation.start_line}:${annotation.start_column ?? ""}:${annotation.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(annotation);
  }
  return out;
}

function toAnnotation(found: Found, prefixes: string[]): Annotation {
  const line = Number(found.line) || 1;
  const col = found.col ? Number(found.col) : undefined;
  const level = (found.level ?? "error").toLowerCase();
  return {
    path: relativePath(found.path, prefixes),
    start_line: line,
    end_line: line,
    ...(col ? { start_column: col, end_column: col } : {}),
    annotation_level: level === "warning" ? "warning" : level === "note" || level === "info" ? "notice" : "failure",
    message: found.message.trim().slice(0, 64_000),
    ...(found.title ? { title: found.title } : {}),
  };
}

function relativePath(file: string, prefixes: string[]): string {
  const p = file.replace(/\\/g, "/");
  for (const prefix of prefixes) if (p.startsWith(`${prefix}/`)) return p.slice(prefix.length + 1);
  const inWorkspace = /(?:^|\/)workspace\/(.+)$/.exec(p);
  if (inWorkspace) return inWorkspace[1]!;
  return p.replace(/^(\.\/)+/, "");
}
