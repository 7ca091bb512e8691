import type { z } from "zod";
import { formatPath } from "./interpolate.js";

/** One problem of a config file: the field (`targets[0].commands`, "" for the whole file) and what was expected. */
export interface ConfigProblem {
  field: string;
  expected: string;
}

/**
 * Every zod issue of a config, as the person fixing the file reads them: unknown keys first (a
 * misspelt key is usually the cause of the other errors), one line per key, naming the nearest
 * known key of that object ("did you mean `commands`?"). A required field that a misspelt key
 * was meant to be is not reported again: the suggestion already says what to write.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], schema: z.core.$ZodType): ConfigProblem[] {
  const unknown: ConfigProblem[] = [];
  const others: ConfigProblem[] = [];
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== "unrecognized_keys") continue;
    const field = formatPath(issue.path);
    const known = knownKeys(schema, issue.path);
    for (const key of issue.keys) {
      const near = nearest(key, known);
      if (near) suggested.add(formatPath([...issue.path, near]));
      const hint = near ? ` (did you mean \`${near}\`?)` : known.length ? ` (expected one of: ${known.join(", ")})` : "";
      unknown.push({ field, expected: `unknown key "${key}"${hint}` });
    }
  }
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") continue;
    const field = formatPath(issue.path);
    const missing = issue.code === "invalid_type" && issue.input === undefined;
    if (missing && suggested.has(field)) continue;
    others.push({ field, expected: missing ? "expected a value (the field is required)" : expectedOf(issue.message) });
  }
  return [...unknown, ...others];
}

function expectedOf(message: string): string {
  return message.startsWith("expected") ? message : `expected ${message.replace(/^Invalid input: expected /i, "")}`;
}

/**
 * The keys the object at `at` accepts, read from the schema itself (so a key added to the
 * schema is suggested without a list to keep in step). Empty when the path leads nowhere known.
 */
export function knownKeys(schema: z.core.$ZodType, at: readonly PropertyKey[]): string[] {
  let node: z.core.$ZodType | undefined = unwrap(schema);
  for (const part of at) {
    if (!node) return [];
    const def = node._zod.def as unknown as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    if (typeof part === "number") node = def.type === "array" ? unwrap(def.element!) : undefined;
    else node = def.type === "object" && def.shape ? unwrap(def.shape[String(part)]) : undefined;
  }
  const def = node?._zod.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

/** Through optional, default, nullable and pipe wrappers to the schema that holds the shape. */
function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let node = schema;
  for (let depth = 0; node && depth < 10; depth++) {
    const def = node._zod.def as unknown as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
    if (def.innerType) node = def.innerType;
    else if (def.type === "pipe" && def.in) node = def.in;
    else break;
  }
  return node;
}

/**
 * The known key closest to `key` by edit distance (case ignored), if it is close enough to be a
 * typo: at most a third of the key's length, and at least one edit. Undefined otherwise.
 */
export function nearest(key: string, known: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Levenshtein distance, with a swap of two neighbouring letters counted as one edit (Damerau, restricted). */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
