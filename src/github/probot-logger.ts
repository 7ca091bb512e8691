import type { Logger as PinoLogger } from "probot";
import type { Logger } from "../shared/logger.js";

type Level = "debug" | "info" | "warn" | "error";

/**
 * Adapts our logger to the pino interface Probot and Octokit log through, so their lines land in
 * the same stream. Only the message and an error's message are kept: the field objects pino
 * callers pass (webhook payloads, request bodies) are dropped, so nothing from a payload or a
 * request reaches the log by accident.
 */
export function toProbotLogger(logger: Logger): PinoLogger {
  const write = (level: Level) => (...args: unknown[]) => {
    const [first, second] = args;
    let message: string | undefined;
    let error: string | undefined;
    if (typeof first === "string") message = first;
    else {
      const err = first instanceof Error ? first : (first as { err?: unknown } | null)?.err;
      if (err instanceof Error) error = err.message;
      if (typeof second === "string") message = second;
    }
    logger[level](message ?? error ?? "(no message)", message && error ? { error } : undefined);
  };
  const adapter = {
    level: "debug",
    trace: write("debug"),
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    fatal: write("error"),
    silent: () => {},
    isLevelEnabled: () => true,
    child: (bindings?: { name?: unknown }) =>
      typeof bindings?.name === "string" ? toProbotLogger(logger.child(bindings.name)) : adapter,
  };
  return adapter as unknown as PinoLogger;
}
