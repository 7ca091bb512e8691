import { z } from "zod";
import { TARGET_NAME } from "./safe-path.js";

/**
 * The wire protocol between the manager and a builder. Both sides validate with these schemas.
 *
 * Manager → builder: `POST /build` with a BuildRequest → `202 {"status":"accepted","key"}` or
 * `409 {"status":"busy","key": <running key>}`; `GET /status` → BuilderStatus.
 *
 * Builder → manager: each BuilderEvent is POSTed as JSON to the manager URL given at start, with
 * `Authorization: Bearer <manager token>` (one token per builder), retried with back-off while
 * the manager is unreachable. Events are informative: builds.json and the artifacts stay the
 * record, so a lost event loses no build.
 */
/**
 * A branch, tag or ref name as git allows it (git check-ref-format, loosely): never starting with
 * `-` (git would read it as an option), no `..`, spaces, control characters or `~^:?*[\`.
 */
export const gitRefSchema = z
  .string()
  .min(1)
  .max(255)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^(?!-)(?!.*\.\.)[^\s~^:?*[\\\x00-\x1f\x7f]+$/, { error: "expected a branch, tag or ref name" });

export const buildRequestSchema = z.strictObject({
  key: z.string().regex(/^[A-Za-z0-9_-]{6,64}$/, { error: "expected a build key of 6-64 letters, digits, - or _" }),
  target: z.string().regex(TARGET_NAME, { error: "expected a target name" }),
  url: z.string().min(1, { error: "expected a source URL" }),
  ref: gitRefSchema.optional(),
  sha: z.string().regex(/^[0-9a-f]{7,64}$/i, { error: "expected a commit sha" }).optional(),
  commands: z.array(z.string().min(1)).min(1, { error: "expected a non-empty list of commands" }),
  artifacts: z.array(z.string().min(1)).min(1, { error: "expected a non-empty list of artifact patterns" }),
  token: z.string().min(1).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
  /** Values to mask in output besides the token and env values (e.g. an installation token). */
  mask: z.array(z.string()).optional(),
  /** Extra fields recorded in builds.json (trigger, …). Never secrets. */
  meta: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});
export type BuildRequest = z.infer<typeof buildRequestSchema>;

export interface AcceptedAnswer {
  status: "accepted";
  key: string;
}
export interface BusyAnswer {
  status: "busy";
  key: string;
}

export interface BuilderStatus {
  builderId: string;
  state: "idle" | "building" | "done";
  key?: string;
  result?: "success" | "failure";
}

const base = { builderId: z.string(), at: z.string() };
export const builderEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), ...base, port: z.number().int(), pid: z.number().int().optional() }),
  z.object({ type: z.literal("started"), ...base, key: z.string() }),
  z.object({
    type: z.literal("success"),
    ...base,
    key: z.string(),
    exitCode: z.literal(0),
    durationMs: z.number(),
    commit: z.string().nullable(),
    artifacts: z.array(z.string()),
    sizes: z.record(z.string(), z.number()).optional(),
    commands: z.array(z.object({ command: z.string(), exitCode: z.number().nullable(), durationMs: z.number() })).optional(),
  }),
  z.object({
    type: z.literal("failure"),
    ...base,
    key: z.string(),
    exitCode: z.number().nullable(),
    durationMs: z.number(),
    commit: z.string().nullable(),
    reason: z.string(),
    /** Index of the command that failed, when a command failed (not the fetch or publish). */
    failedCommand: z.number().int().optional(),
    commands: z.array(z.object({ command: z.string(), exitCode: z.number().nullable(), durationMs: z.number() })).optional(),
  }),
]);
export type BuilderEvent = z.infer<typeof builderEventSchema>;
