import { readdirSync, readFileSync, statSync, type Stats } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { errors } from "./errors.js";
import { MIN_SECRET_LENGTH } from "./mask.js";

/**
 * A target's secrets, from either
 *  - a file: `KEY=VALUE` lines, `#` comments, blank lines, an optional `export ` prefix, single
 *    or double quotes around the value, and multi-line values as heredoc blocks
 *    (`KEY<<EOF`, the lines, then a line `EOF`; any delimiter word, as in GitHub Actions'
 *    `$GITHUB_ENV`); or
 *  - a folder holding one file per secret: the file name is the KEY, its content the value with
 *    one trailing newline dropped (how Docker and Kubernetes mount secrets; names starting with
 *    a dot, such as Kubernetes' `..data`, are skipped).
 *
 * Every value of 1 to 7 characters is refused: the masker cannot hide it (mask.ts says why),
 * so it would reach the log in the clear. An empty value is allowed (it has nothing to leak).
 * Errors start with `label` (the file as the user wrote it, e.g. `cicd.yml: targets[0].secrets:
 * secrets/hello.env`) and name the line or the KEY, never a value.
 */
export async function readSecretsFile(file: string, label = file): Promise<Record<string, string>> {
  const info = await stat(file).catch((error: unknown) => unreadable(label, error));
  if (!info.isDirectory()) return parseSecrets(await readFile(file, "utf8").catch((error: unknown) => unreadable(label, error)), label);
  const names = await readdir(file).catch((error: unknown) => unreadable(label, error));
  const entries: Array<[string, string]> = [];
  for (const name of secretNames(names)) {
    const entry = path.join(file, name);
    const kind = await stat(entry).catch((error: unknown) => unreadable(`${label}: ${name}`, error));
    entries.push([checkedName(label, name, kind), await readFile(entry, "utf8").catch((error: unknown) => unreadable(`${label}: ${name}`, error))]);
  }
  return fromFolder(entries, label);
}

/** The same as readSecretsFile, at config load (which is synchronous). */
export function readSecretsFileSync(file: string, label = file): Record<string, string> {
  const attempt = <T>(what: string, read: () => T): T => {
    try {
      return read();
    } catch (error) {
      return unreadable(what, error);
    }
  };
  const info = attempt(label, () => statSync(file));
  if (!info.isDirectory()) return parseSecrets(attempt(label, () => readFileSync(file, "utf8")), label);
  const entries = secretNames(attempt(label, () => readdirSync(file))).map((name): [string, string] => {
    const entry = path.join(file, name);
    const kind = attempt(`${label}: ${name}`, () => statSync(entry));
    return [checkedName(label, name, kind), attempt(`${label}: ${name}`, () => readFileSync(entry, "utf8"))];
  });
  return fromFolder(entries, label);
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const HEREDOC = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*<<\s*(['"]?)([A-Za-z0-9_.-]+)\2$/;

/** Parses the text of a secrets file (see readSecretsFile). */
export function parseSecrets(text: string, label: string): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const block = HEREDOC.exec(trimmed);
    if (block) {
      const [, key, , delimiter] = block as unknown as [string, string, string, string];
      const end = lines.findIndex((line, j) => j > i && line.trimEnd() === delimiter);
      if (end === -1) throw errors.configInvalid(label, `line ${i + 1}`, `${key}<<${delimiter} is not closed by a line ${delimiter}`);
      env[key] = lines.slice(i + 1, end).join("\n");
      i = end;
      continue;
    }
    const m = ASSIGNMENT.exec(trimmed);
    if (!m) throw errors.configInvalid(label, `line ${i + 1}`, "expected KEY=VALUE, a KEY<<EOF … EOF block, a # comment or a blank line");
    let value = m[2]!;
    if (/^(['"]).*\1$/.test(value) && value.length >= 2) value = value.slice(1, -1);
    env[m[1]!] = value;
  }
  return checkLengths(env, label);
}

function secretNames(names: string[]): string[] {
  return names.filter((name) => !name.startsWith(".")).sort();
}

function checkedName(label: string, name: string, info: Stats): string {
  if (!info.isFile()) throw errors.configInvalid(label, name, "expected a file holding one secret (the folder holds one file per secret)");
  if (!KEY.test(name)) throw errors.configInvalid(label, name, "expected a file named like an environment variable (letters, digits and _, not starting with a digit)");
  return name;
}

function fromFolder(entries: Array<[string, string]>, label: string): Record<string, string> {
  return checkLengths(Object.fromEntries(entries.map(([key, content]) => [key, content.replace(/\r?\n$/, "")])), label);
}

function checkLengths(env: Record<string, string>, label: string): Record<string, string> {
  for (const [key, value] of Object.entries(env)) {
    const length = [...value].length;
    if (length > 0 && length < MIN_SECRET_LENGTH) {
      throw errors.configInvalid(label, "", `${key} is ${length} character${length === 1 ? "" : "s"}; secrets must be at least ${MIN_SECRET_LENGTH} characters so they can be masked`);
    }
  }
  return env;
}

function unreadable(label: string, error: unknown): never {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // The code only: Node's message repeats the absolute path, which the label already names.
  throw errors.configInvalid(label, "", `cannot be read${code ? ` (${code})` : ""}; expected a KEY=VALUE file or a folder with one file per secret`);
}
