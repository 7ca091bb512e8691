import { readFile } from "node:fs/promises";
import { errors } from "./errors.js";

/**
 * Reads a target's secrets file: `KEY=VALUE` lines, `#` comments, blank lines, optional
 * `export ` prefix and single or double quotes around the value. Errors name the line, never
 * the value.
 */
export async function readSecretsFile(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw errors.invalidArgument("secrets", `a readable KEY=VALUE file`, file);
  }
  const env: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(trimmed);
    if (!m) throw errors.invalidArgument(`secrets line ${i + 1} of ${file}`, "KEY=VALUE");
    let value = m[2]!;
    if (/^(['"]).*\1$/.test(value) && value.length >= 2) value = value.slice(1, -1);
    env[m[1]!] = value;
  });
  return env;
}
