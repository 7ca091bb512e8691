import { createLogger, type Logger, type LoggerOptions } from "../../src/shared/logger.js";

/** A logger that records its lines (every level, text format unless told), for tests. */
export function memoryLogger(options: Omit<LoggerOptions, "write"> = {}): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger("test", { level: "debug", ...options, write: (l) => lines.push(l) });
  return Object.assign(logger, { lines });
}
