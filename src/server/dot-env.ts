import { readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";

/**
 * Reads `.env` from `dir` into `env`, as Probot apps do (APP_ID, PRIVATE_KEY, WEBHOOK_SECRET,
 * CICD_API_TOKEN … kept in one file beside the config; `.env.example` lists them). A variable
 * already set in the real environment wins, and an empty value sets nothing. Returns the names it set — never the values,
 * which are secrets — or an empty list when there is no `.env`.
 */
export function loadDotEnv(dir: string, env: NodeJS.ProcessEnv): string[] {
  let text: string;
  try {
    text = readFileSync(path.join(dir, ".env"), "utf8");
  } catch {
    return [];
  }
  const set: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    // An empty value (a copied .env.example) means "not set", not "set to nothing".
    if (env[name] !== undefined || value === "") continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
