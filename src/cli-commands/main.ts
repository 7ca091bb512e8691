import { CicdApiError, CicdClient } from "../client/index.js";
import { artifacts } from "./artifacts.js";
import { build } from "./build.js";
import { builds } from "./builds.js";
import { cancel } from "./cancel.js";
import { CommandError } from "./command-error.js";
import type { Command, CommandContext } from "./context.js";
import { download } from "./download.js";
import { logs } from "./logs.js";
import { runners } from "./runners.js";
import { loadSettings, type Settings } from "./settings.js";

/** The commands that talk to a server over its REST API, by name. */
export const COMMANDS: Readonly<Record<string, Command>> = { build, builds, logs, cancel, artifacts, download, runners };

/**
 * `cicd <command> …` for the REST commands: settings, the client, the command; every failure
 * printed once, as what to do. Exit codes: 0 ok, 1 a failed build or an error, 2 usage.
 */
export async function commandMain(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const command = COMMANDS[name];
  if (!command) throw new Error(`not a command: ${name}`);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${command.usage}\n\n${ENVIRONMENT}`);
    return 0;
  }
  let settings: Settings | undefined;
  try {
    settings = loadSettings(env);
    const context: CommandContext = { client: new CicdClient({ baseUrl: settings.server, token: settings.token ?? "" }), settings, stdout: process.stdout, stderr: process.stderr };
    return await command.run(context, args);
  } catch (error) {
    const problem = explain(error, settings);
    process.stderr.write(`cicd ${name}: ${problem.message}\n`);
    return problem.exitCode;
  }
}

const ENVIRONMENT = `Environment:
  CICD_SERVER     the server's URL (default http://localhost:3000)
  CICD_API_TOKEN  the server's API token
Or a config file, $XDG_CONFIG_HOME/cicd/config.json (else ~/.config/cicd/config.json),
mode 0600: {"server": "http://…", "token": "…"}.
`;

/** What went wrong, said so that the user knows what to do next. */
function explain(error: unknown, settings: Settings | undefined): { message: string; exitCode: 1 | 2 } {
  if (error instanceof CommandError) return { message: error.message, exitCode: error.exitCode };
  const tokenFrom = settings ? `CICD_API_TOKEN (or "token" in ${settings.file})` : "CICD_API_TOKEN";
  if (error instanceof CicdApiError) {
    if (error.status === 401 && !settings?.token) return { message: `the server wants an API token: set ${tokenFrom} to the server's CICD_API_TOKEN.`, exitCode: 1 };
    if (error.status === 401) return { message: `the server refused the API token (401): set ${tokenFrom} to the server's CICD_API_TOKEN.`, exitCode: 1 };
    return { message: error.message, exitCode: 1 };
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  if (error instanceof TypeError && settings && (error.message === "fetch failed" || cause)) {
    const why = cause ? ` (${(cause as NodeJS.ErrnoException).code ?? cause.message})` : "";
    return { message: `cannot reach the cicd server at ${settings.server}${why}. Is it running there? Set CICD_SERVER to its URL (or "server" in ${settings.file}).`, exitCode: 1 };
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: 1 };
}
