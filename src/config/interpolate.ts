import { errors } from "../shared/errors.js";

/**
 * Replaces `${VAR}` (and `${VAR:-default}`) in every string of a parsed YAML document with the
 * environment's value. `$${` stands for a literal `${`. A missing variable without a default is
 * an error naming the field, so a typo never turns into an empty token.
 */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, file: string, at: (string | number)[] = []): unknown {
  if (typeof value === "string") return interpolateString(value, env, file, at);
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, file, [...at, i]));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, file, [...at, k])]));
  }
  return value;
}

function interpolateString(text: string, env: NodeJS.ProcessEnv, file: string, at: (string | number)[]): string {
  return text.replace(/\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, escaped, name: string, fallback?: string) => {
    if (escaped) return whole.slice(1);
    const found = env[name];
    if (found !== undefined && found !== "") return found;
    if (fallback !== undefined) return fallback;
    throw errors.configInvalid(file, formatPath(at), `expected environment variable ${name} to be set`);
  });
}

/** `["targets", 1, "commands"]` → `targets[1].commands`. */
export function formatPath(at: readonly PropertyKey[]): string {
  return at.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), "");
}
