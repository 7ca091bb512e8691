/**
 * The one error catalogue of cicd. Every error a user can meet has a stable `code` (for
 * scripts and the REST API), an HTTP `status` (used by the API), and a message that says what
 * went wrong and what to do. Messages never contain secrets: callers pass masked text only.
 */
export type ErrorCode =
  | "CONFIG_NOT_FOUND"
  | "CONFIG_INVALID"
  | "INVALID_ARGUMENT"
  | "UNSAFE_PATH"
  | "SOURCE_FETCH_FAILED"
  | "COMMAND_FAILED"
  | "ARTIFACT_NOT_FOUND"
  | "BUILDER_BUSY"
  | "LOCK_TIMEOUT"
  | "METADATA_CORRUPT"
  | "NOT_FOUND"
  | "UNAUTHORIZED"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNPROCESSABLE"
  | "NO_GOOD_BUILD"
  | "EXECUTOR_FAILED"
  | "TIMED_OUT"
  | "CANCELLED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RANGE_NOT_SATISFIABLE"
  | "PRECONDITION_FAILED"
  | "HEADERS_TOO_LARGE"
  | "REQUEST_TIMEOUT"
  | "LOCK_LOST";

const statusOf: Record<ErrorCode, number> = {
  CONFIG_NOT_FOUND: 400,
  CONFIG_INVALID: 400,
  INVALID_ARGUMENT: 400,
  UNSAFE_PATH: 400,
  SOURCE_FETCH_FAILED: 422,
  COMMAND_FAILED: 422,
  ARTIFACT_NOT_FOUND: 422,
  BUILDER_BUSY: 409,
  LOCK_TIMEOUT: 503,
  METADATA_CORRUPT: 500,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE: 422,
  NO_GOOD_BUILD: 409,
  EXECUTOR_FAILED: 500,
  TIMED_OUT: 504,
  CANCELLED: 409,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  PRECONDITION_FAILED: 412,
  HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
  LOCK_LOST: 409,
};

export class CicdError extends Error {
  override readonly name = "CicdError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = statusOf[code];
  }
}

export function isCicdError(error: unknown, code?: ErrorCode): error is CicdError {
  return error instanceof CicdError && (code === undefined || error.code === code);
}

/** Text of any thrown value, for logs and messages. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Factories, so every place that raises an error says it the same way. */
export const errors = {
  configNotFound: (file: string) =>
    new CicdError("CONFIG_NOT_FOUND", `${file}: file not found. Pass --config FILE or set CICD_CONFIG.`, { file }),
  configInvalid: (file: string, field: string, expected: string) =>
    new CicdError("CONFIG_INVALID", `${file}: ${field ? `${field}: ` : ""}${expected}`, { file, field }),
  invalidArgument: (name: string, expected: string, got?: unknown) =>
    new CicdError(
      "INVALID_ARGUMENT",
      `Expected \`${name}\` to be ${expected}${got === undefined ? "" : `, got ${describe(got)}`}`,
      { name },
    ),
  unsafePath: (what: string, path: string, why: string) =>
    new CicdError("UNSAFE_PATH", `Refused ${what} "${path}": ${why}`, { path }),
  sourceFetchFailed: (url: string, why: string) =>
    new CicdError("SOURCE_FETCH_FAILED", `Could not fetch the source ${url}: ${why}`, { url }),
  commandFailed: (index: number, command: string, exitCode: number | null, signal?: string | null) =>
    new CicdError(
      "COMMAND_FAILED",
      `Command ${index + 1} failed (${signal ? `killed by ${signal}` : `exit code ${exitCode}`}): ${command}`,
      { index, command, exitCode, signal },
    ),
  artifactNotFound: (pattern: string) =>
    new CicdError(
      "ARTIFACT_NOT_FOUND",
      `The artifact pattern "${pattern}" matched no file in the workspace. Check the target's artifacts and that the build writes them.`,
      { pattern },
    ),
  builderBusy: (key: string) => new CicdError("BUILDER_BUSY", `The builder is busy with build ${key}.`, { key }),
  lockTimeout: (path: string, ms: number) =>
    new CicdError("LOCK_TIMEOUT", `Timed out after ${ms} ms waiting for the lock ${path}. If no cicd process holds it, remove the file.`, { path }),
  metadataCorrupt: (path: string, why: string) =>
    new CicdError("METADATA_CORRUPT", `${path} is not a valid builds file: ${why}. It was left untouched; fix or move it.`, { path }),
  notFound: (what: string, id: string) => new CicdError("NOT_FOUND", `No ${what} named "${id}".`, { what, id }),
  unauthorized: () =>
    new CicdError("UNAUTHORIZED", "Missing or wrong bearer token. Send `Authorization: Bearer <CICD_API_TOKEN>`."),
  conflict: (message: string, details: Record<string, unknown> = {}) => new CicdError("CONFLICT", message, details),
  payloadTooLarge: (limit: string) => new CicdError("PAYLOAD_TOO_LARGE", `Request body larger than ${limit}.`),
  unprocessable: (message: string, details: Record<string, unknown> = {}) =>
    new CicdError("UNPROCESSABLE", message, details),
  noGoodBuild: (dir: string, tried: string[]) =>
    new CicdError(
      "NO_GOOD_BUILD",
      tried.length
        ? `No good build left in ${dir}; tried ${tried.join(", ")} and every one failed.`
        : `No good build in ${dir}; nothing to run.`,
      { dir, tried },
    ),
  executorFailed: (why: string) => new CicdError("EXECUTOR_FAILED", why),
  timedOut: (what: string, ms: number) => new CicdError("TIMED_OUT", `${what} timed out after ${ms} ms.`),
  cancelled: (what: string) => new CicdError("CANCELLED", `${what} was cancelled.`),
  // HTTP-level refusals of the REST API. They carry the HTTP status the request deserves (415,
  // 416, 412) on a catalogue code, since the code list itself is fixed here.
  unsupportedMediaType: (what: string, expected: string) =>
    new CicdError("UNSUPPORTED_MEDIA_TYPE", `Unsupported ${what}: ${expected}.`, { what }),
  rangeNotSatisfiable: (size: number) =>
    new CicdError("RANGE_NOT_SATISFIABLE", `The requested Range is outside the file (${size} bytes): ask for bytes within 0-${Math.max(size - 1, 0)}, or send no Range for the whole file.`, { size }),
  preconditionFailed: (header: string) =>
    new CicdError("PRECONDITION_FAILED", `The file changed since you read it (${header} does not match); fetch it again without ${header}.`),
  badPercentEncoding: (value: string) =>
    new CicdError("INVALID_ARGUMENT", `Expected the URL path to be percent-encoded UTF-8 (every % followed by two hex digits), got ${describe(value)}.`),
  badRequest: (why: string) => new CicdError("INVALID_ARGUMENT", `Bad request: ${why}.`),
  headersTooLarge: (limit: string) =>
    new CicdError("HEADERS_TOO_LARGE", `The request's URL and headers together are larger than ${limit}; send a shorter URL or fewer headers.`),
  requestTimeout: () => new CicdError("REQUEST_TIMEOUT", "The request did not arrive in time; send it again."),
  /** At start: another server holds the database's lock (one server per database). */
  databaseInUse: (database: string, holder: string, advice: string) =>
    new CicdError("CONFLICT", `${database} is in use by another cicd server (${holder}); ${advice}`, { database }),
  /** The server runs but cannot take new work (e.g. its database file was replaced): 503. */
  unavailable: (why: string) => new CicdError("UNAVAILABLE", why),
  /** A lock file removed or taken by another process while held: the write under it was not trusted. */
  lockLost: (path: string) =>
    new CicdError("LOCK_LOST", `The lock ${path} was removed or taken by another process while this one held it; try again (if it keeps happening, something removes lock files in that folder).`, { path }),
  /**
   * Every problem of a config file at once, one line each naming the file and the field; with
   * one problem the message is exactly configInvalid's.
   */
  configProblems: (file: string, problems: readonly { field: string; expected: string }[]) =>
    new CicdError("CONFIG_INVALID", problems.map((p) => `${file}: ${p.field ? `${p.field}: ` : ""}${p.expected}`).join("\n"), {
      file,
      field: problems[0]?.field ?? "",
      problems: problems.map((p) => ({ ...p })),
    }),
  /**
   * `cicd runner --api`: the API could not be reached, or answered that it cannot serve now
   * (5xx, 429). Not the build's fault: the runner keeps what runs and tries again.
   */
  apiUnreachable: (url: string, why: string) => new CicdError("UNAVAILABLE", `Cannot reach the cicd API at ${url}: ${why}.`, { url }),
  /** `cicd runner --api`: the API refused CICD_API_TOKEN. Never names the token itself. */
  apiTokenRefused: (url: string) =>
    new CicdError("UNAUTHORIZED", `The cicd API at ${url} refused the token (401): set CICD_API_TOKEN to the server's API token (the CICD_API_TOKEN the server runs with).`, { url }),
  /** `cicd runner --api`: an artifact arrived whole but does not match what builds.json says of it. */
  artifactMismatch: (name: string, why: string) => new CicdError("UNPROCESSABLE", `The downloaded artifact ${name} ${why}.`, { name }),
  /** GET /metrics without the bearer token that `metrics.token` of cicd.yml asks for. */
  metricsUnauthorized: () =>
    new CicdError("UNAUTHORIZED", "Missing or wrong bearer token for /metrics. Send `Authorization: Bearer <metrics.token of cicd.yml>`."),
  /** The dashboard's data routes (log stream, downloads, live events) without a signed-in session. */
  dashboardSignInRequired: () =>
    new CicdError("UNAUTHORIZED", "Sign in to the dashboard first (/login), or call the REST API under /api/v1 with `Authorization: Bearer <CICD_API_TOKEN>`."),
};

function describe(value: unknown): string {
  if (typeof value === "string") return `"${value.length > 80 ? `${value.slice(0, 77)}...` : value}"`;
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : String(value);
}
