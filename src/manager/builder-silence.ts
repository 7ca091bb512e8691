import { formatDuration } from "../shared/duration.js";

/** The builder's broadcaster logs this (src/builder/broadcaster.ts) when its first try to call the manager fails. */
const UNREACHABLE = "the manager is unreachable; retrying the event";
/** …and this when it stopped trying. */
const GAVE_UP = "gave up sending the event; the manager stayed unreachable";

/**
 * Why a builder did not announce `ready` within `waitedMs`, from what it printed meanwhile
 * (`output`, already masked). A builder that started but could not call the manager back says so
 * in its output (the broadcaster retries and logs why); the reason then names the address it
 * called and the error, which is what the user must fix (`host`, `callbackHost`). The callback
 * URL holds no secret: the builder's token travels in a header.
 */
export function silentBuilderReason(callbackUrl: string, output: string, waitedMs: number): string {
  const within = waitedMs % 60_000 === 0 ? `${waitedMs / 60_000} minute${waitedMs === 60_000 ? "" : "s"}` : formatDuration(waitedMs);
  const why = lastCallbackError(output);
  if (why === undefined) return `the builder did not start within ${within}`;
  return `the builder started but could not call the manager back at ${callbackUrl} (${why}) within ${within}; the server must listen on an address builders reach: check host and callbackHost in cicd.yml`;
}

/** The error of the builder's last failed call to the manager (`ECONNREFUSED`, `HTTP 502`, …), from its text or JSON log lines. */
export function lastCallbackError(output: string): string | undefined {
  let found: string | undefined;
  for (const line of output.split("\n")) {
    if (!line.includes(UNREACHABLE) && !line.includes(GAVE_UP)) continue;
    found = whyOf(line) ?? found ?? "no answer";
  }
  return found;
}

function whyOf(line: string): string | undefined {
  const start = line.indexOf("{");
  if (start !== -1) {
    try {
      const entry = JSON.parse(line.slice(start)) as { why?: unknown };
      if (typeof entry.why === "string") return entry.why;
    } catch {
      // a text line with a brace in it: read below
    }
  }
  // Text lines end in `key=value` fields; `why` is the last one and may hold spaces.
  const m = / why=(.+)$/.exec(line.trimEnd());
  return m?.[1];
}
