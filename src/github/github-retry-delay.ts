export interface RetryOptions {
  /** First delay (default 1 s); doubles on every further attempt. */
  baseMs: number;
  /** Longest delay between two attempts (default 5 min). */
  maxMs: number;
}

export const defaultRetryOptions: RetryOptions = { baseMs: 1000, maxMs: 5 * 60_000 };

interface ErrorLike {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

/**
 * How long to wait before trying a failed GitHub request again, or undefined when trying again
 * cannot help (a 4xx other than a rate limit: bad request, missing permission, unknown commit).
 * Network errors, timeouts, 5xx and rate limits are retried with exponential back-off (with
 * jitter), never sooner than GitHub's `retry-after` / `x-ratelimit-reset` asks for, capped at
 * `maxMs`.
 */
export function githubRetryDelay(error: unknown, attempt: number, options: RetryOptions = defaultRetryOptions): number | undefined {
  const e = (error ?? {}) as ErrorLike;
  const status = typeof e.status === "number" ? e.status : undefined;
  const headers = e.response?.headers ?? {};
  // A secondary rate limit is a 403 (or 429) with `retry-after`, whatever its message says;
  // the primary one is a 403 with no requests remaining.
  const rateLimited =
    status === 429 ||
    (status === 403 &&
      (headers["retry-after"] !== undefined || String(headers["x-ratelimit-remaining"]) === "0" || /rate limit/i.test(e.message ?? "")));
  const retryable = status === undefined || status >= 500 || rateLimited;
  if (!retryable) return undefined;
  const backoff = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 20));
  const jittered = backoff / 2 + Math.random() * (backoff / 2);
  return Math.min(options.maxMs, Math.max(jittered, askedWaitMs(headers)));
}

function askedWaitMs(headers: Record<string, string | number | undefined>): number {
  const retryAfter = Number(headers["retry-after"]);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter * 1000;
  const reset = Number(headers["x-ratelimit-reset"]);
  if (String(headers["x-ratelimit-remaining"]) === "0" && Number.isFinite(reset)) return Math.max(0, reset * 1000 - Date.now());
  return 0;
}
