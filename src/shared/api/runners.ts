import { z } from "zod";

/**
 * Runners as the REST API serves them (see builds.ts for why here): the runner's record, whether
 * it runs, and what its state file (`cicd runner --state-file`) says it is doing.
 */

export const runnerPhaseSchema = z.enum(["starting", "running", "backoff", "waiting", "stopping", "exited"]);
export type RunnerPhase = z.infer<typeof runnerPhaseSchema>;

export const decisionKindSchema = z.enum(["pin", "start", "exit", "mark-bad", "fall-back", "switch", "restart", "skip", "no-good-build", "wait", "stop", "shutdown", "error"]);
export type DecisionKind = z.infer<typeof decisionKindSchema>;

/** One thing the runner decided, as logged to stderr. */
export const runnerDecisionSchema = z.strictObject({ at: z.string(), kind: decisionKindSchema, message: z.string(), build: z.string().optional() });
export type RunnerDecision = z.infer<typeof runnerDecisionSchema>;

/** How the build the runner ran last ended. */
export const runnerExitSchema = z.strictObject({ key: z.string(), exitCode: z.number().nullable(), signal: z.string().nullable(), at: z.string(), runtimeMs: z.number() });
export type RunnerExit = z.infer<typeof runnerExitSchema>;

export const runnerRecordStateSchema = z.enum(["running", "exited", "stopped"]);

export const runnerViewSchema = z.strictObject({
  id: z.string(),
  target: z.string(),
  state: runnerRecordStateSchema,
  createdAt: z.string(),
  stoppedAt: z.string().nullable(),
  exitCode: z.int().nullable().describe("Exit code of the runner workload once it ended"),
  running: z.boolean(),
  build: z.string().nullable().describe("The build it runs now"),
  restarts: z.int(),
  lastExit: runnerExitSchema.nullable(),
  phase: runnerPhaseSchema.nullable(),
  decisions: z.array(runnerDecisionSchema),
  tried: z.array(z.string()).describe("Builds that failed while this runner ran them, in order"),
  pinned: z.string().nullable().describe("The build a deploy pinned it to"),
  replaced: z.array(z.string()).optional().describe("Runners a deploy stopped"),
});
export type RunnerView = z.infer<typeof runnerViewSchema>;

/** `POST /targets/:name/runners`: with `build`, deploy that build. */
export const createRunnerSchema = z.strictObject({
  build: z.string({ error: "expected a build key" }).min(1, { error: "expected a build key" }).max(200).optional().describe("Key of a good build in the target's builds.json"),
});

export const runnerListSchema = z.strictObject({ runners: z.array(runnerViewSchema) });
