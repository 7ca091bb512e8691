/**
 * How a finished build ended, as a code set where it happens (never read back from a reason's
 * text). The status (`succeeded | failed | cancelled | error`, the REST contract) says whether
 * the build's own commands are to blame; the outcome says what happened. This table is the one
 * place that maps an outcome to what people see: the status, GitHub's check-run conclusion and
 * the check run's title.
 */
export const OUTCOMES = {
  succeeded: { status: "succeeded", conclusion: "success", title: "Build succeeded" },
  /** A build command exited non-zero or was killed by a signal of its own. */
  command_failed: { status: "failed", conclusion: "failure", title: "Build failed" },
  /** The kernel killed the build for using more memory than its limit. */
  out_of_memory: { status: "failed", conclusion: "failure", title: "Build ran out of memory" },
  /** The source could not be fetched (no such repository, ref or commit; access refused). */
  source_unavailable: { status: "failed", conclusion: "failure", title: "Source could not be fetched" },
  /** An artifact pattern matched no file, or a match left the workspace. */
  artifact_missing: { status: "failed", conclusion: "failure", title: "Artifacts missing" },
  /** The builder failed the build for another reason of the build's own. */
  build_failed: { status: "failed", conclusion: "failure", title: "Build failed" },
  /** Ran past the target's `timeout`. */
  timed_out: { status: "error", conclusion: "timed_out", title: "Build timed out" },
  /** Someone cancelled it (REST, CLI). */
  cancelled: { status: "cancelled", conclusion: "cancelled", title: "Build cancelled" },
  /** A newer trigger of the same branch took its place. */
  superseded: { status: "cancelled", conclusion: "cancelled", title: "Build superseded" },
  /** An untrusted build the configuration does not let this executor run. */
  untrusted_refused: { status: "cancelled", conclusion: "action_required", title: "Approval needed" },
  /** The system running the build failed (engine, container, builder), every attempt. */
  executor_failed: { status: "error", conclusion: "failure", title: "Could not build (system error)" },
  /** The commands passed, but the manager could not verify or publish the artifacts. */
  publish_failed: { status: "error", conclusion: "failure", title: "Could not publish the artifacts" },
  /** The build's configuration is unusable (target removed, secrets file invalid). */
  config_error: { status: "error", conclusion: "failure", title: "Configuration error" },
} as const;

export type Outcome = keyof typeof OUTCOMES;
export const OUTCOME_CODES = Object.keys(OUTCOMES) as Outcome[];
export type Conclusion = (typeof OUTCOMES)[Outcome]["conclusion"];

/**
 * The outcome of a builder's `failure`, from the catalogue code it carries: what the build's
 * own commands or source caused. (A CANCELLED the manager did not ask for is an interruption,
 * decided before this.)
 */
export function outcomeOfFailure(code: string | undefined): Outcome {
  if (code === "COMMAND_FAILED") return "command_failed";
  if (code === "SOURCE_FETCH_FAILED") return "source_unavailable";
  if (code === "ARTIFACT_NOT_FOUND" || code === "UNSAFE_PATH") return "artifact_missing";
  return "build_failed";
}

export function isOutcome(value: unknown): value is Outcome {
  return typeof value === "string" && Object.hasOwn(OUTCOMES, value);
}

/** The fields every finished build gets: its outcome, the status that outcome means, the time. */
export function endedAs<O extends Outcome>(outcome: O, at = new Date()): { status: (typeof OUTCOMES)[O]["status"]; outcome: O; finishedAt: string } {
  return { status: OUTCOMES[outcome].status, outcome, finishedAt: at.toISOString() };
}
