import { parseArgs, type ParseArgsConfig } from "node:util";
import type { CicdClient } from "../client/index.js";
import { usageError } from "./command-error.js";
import type { Settings } from "./settings.js";

/** What a command runs with: the client on the configured server, and where to print. */
export interface CommandContext {
  client: CicdClient;
  settings: Settings;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

type Options = NonNullable<ParseArgsConfig["options"]>;
/** What parseArgs gives for these options (named, so the declaration file can say it). */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/**
 * The command's flags and positionals (`count` of them, exactly), or a usage error (exit 2)
 * naming what was wrong. `--help` is answered by the caller.
 */
export function parse<O extends Options>(args: string[], options: O, positionals: string[], usage: string): { values: Parsed<O>["values"]; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error), usage);
  }
  if (parsed.positionals.length < positionals.length) throw usageError(`missing ${positionals.slice(parsed.positionals.length).join(" ")}`, usage);
  if (parsed.positionals.length > positionals.length) throw usageError(`unexpected argument "${parsed.positionals[positionals.length]}"`, usage);
  return { values: parsed.values, positionals: parsed.positionals };
}

/** A command: its usage text and what it does; resolves with the exit code. */
export interface Command {
  usage: string;
  run(context: CommandContext, args: string[]): Promise<number>;
}
