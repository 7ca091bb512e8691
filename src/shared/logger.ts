import { Masker } from "./mask.js";

/**
 * A small structured logger, one line per event, in one of two formats:
 *  - `text` (the default, for people): `time LEVEL [scope] message key=value …`;
 *  - `json` (for log collectors): one JSON object per line, `{"time", "level", "name", "msg", …fields}`.
 * Everything that reaches a log goes through here or through a Masker first; callers never pass
 * tokens or secret values. The `secrets` option is the second line of defence: every form of
 * those values (mask.ts) is masked in every line, whatever the format. Settings come from the
 * caller (the server reads LOG_LEVEL and LOG_FORMAT in config/environment.ts); this module reads
 * no environment of its own.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** `LOG_LEVEL` as the container programs (builder, runner) read it; anything else is `info`. */
export function logLevelOf(value: string | undefined): LogLevel {
  return value === "debug" || value === "warn" || value === "error" ? value : "info";
}
export type LogFormat = "text" | "json";
export const logLevels: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const logFormats: readonly LogFormat[] = ["text", "json"];

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export interface LoggerOptions {
  /** The least level written (default `info`). */
  level?: LogLevel;
  /** Line format (default `text`). */
  format?: LogFormat;
  /** Where each line goes, without its newline (default: standard error). */
  write?: (line: string) => void;
  /** Values masked in every line, in every form a Masker knows (the server's own secrets). */
  secrets?: Iterable<string | undefined>;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Keys of a JSON line that fields cannot replace: a field of the same name gets a `_` prefix. */
const reserved = new Set(["time", "level", "name", "msg"]);

export function createLogger(scope = "cicd", options: LoggerOptions = {}): Logger {
  const masker = options.secrets ? new Masker(options.secrets) : undefined;
  return scopedLogger(scope, {
    level: options.level ?? "info",
    format: options.format ?? "text",
    write: options.write ?? ((line: string) => process.stderr.write(`${line}\n`)),
    mask: masker?.active ? (line) => masker.mask(line) : (line) => line,
  });
}

interface Sink {
  level: LogLevel;
  format: LogFormat;
  write: (line: string) => void;
  mask: (line: string) => string;
}

function scopedLogger(scope: string, sink: Sink): Logger {
  const log = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (order[at] < (order[sink.level] ?? 20)) return;
    const time = new Date().toISOString();
    const line = sink.format === "json" ? jsonLine(time, at, scope, message, fields) : textLine(time, at, scope, message, fields);
    sink.write(sink.mask(line));
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    child: (sub) => scopedLogger(`${scope}:${sub}`, sink),
  };
}

function textLine(time: string, at: LogLevel, scope: string, message: string, fields?: Record<string, unknown>): string {
  const extra = fields
    ? Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ")
    : "";
  return `${time} ${at.toUpperCase().padEnd(5)} [${scope}] ${message}${extra ? ` ${extra}` : ""}`;
}

/** One JSON object; newlines in messages are escaped, so a line is always one event. */
function jsonLine(time: string, at: LogLevel, scope: string, message: string, fields?: Record<string, unknown>): string {
  const entry: Record<string, unknown> = { time, level: at, name: scope, msg: message };
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (value !== undefined) entry[reserved.has(key) ? `_${key}` : key] = value;
  }
  return JSON.stringify(entry, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}

/** A logger that writes nothing: for progress whose summary is logged elsewhere already. */
export function discardLogger(): Logger {
  return createLogger("discard", { write: () => undefined });
}
