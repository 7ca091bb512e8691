import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { CommandError } from "./command-error.js";

/** Where the CLI finds the server, and with which token. */
export interface Settings {
  server: string;
  token: string | undefined;
  /** The config file, when one exists (named in messages). */
  file: string;
}

export const DEFAULT_SERVER = "http://localhost:3000";

/** `$XDG_CONFIG_HOME/cicd/config.json`, else `~/.config/cicd/config.json`. */
export function configFile(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME || homedir(), ".config");
  return path.join(base, "cicd", "config.json");
}

/**
 * `CICD_SERVER` and `CICD_API_TOKEN` first, then the config file `{server, token}` for what they
 * leave unset. The file holds the API token, so (as ssh does with keys) it is refused unless only
 * its owner can read it. `CICD_URL` is not read: it is the builder's source URL.
 */
export function loadSettings(env: NodeJS.ProcessEnv): Settings {
  const file = configFile(env);
  let fromFile: { server?: string; token?: string } = {};
  if (!env.CICD_SERVER || !env.CICD_API_TOKEN) fromFile = readConfigFile(file);
  const server = env.CICD_SERVER || fromFile.server || DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(server);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new CommandError(`CICD_SERVER is not an http(s) URL: "${server}" (e.g. http://ci.example.com:3000).`);
  }
  return { server: url.toString().replace(/\/+$/, ""), token: env.CICD_API_TOKEN || fromFile.token, file };
}

function readConfigFile(file: string): { server?: string; token?: string } {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return {};
  }
  if ((mode & 0o077) !== 0) {
    throw new CommandError(`${file} can be read by other users (mode ${(mode & 0o777).toString(8).padStart(4, "0")}) and holds the API token, so it is not used. Run: chmod 600 ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CommandError(`${file} is not valid JSON (${error instanceof Error ? error.message : String(error)}); expected {"server": "http://…", "token": "…"}.`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new CommandError(`${file}: expected an object {"server": "http://…", "token": "…"}.`);
  const { server, token } = parsed as Record<string, unknown>;
  for (const [name, value] of [["server", server], ["token", token]] as const) {
    if (value !== undefined && typeof value !== "string") throw new CommandError(`${file}: "${name}" must be a string.`);
  }
  return { server: server as string | undefined, token: token as string | undefined };
}
