import { z } from "zod";
import { OUTCOME_CODES, type Outcome } from "../outcome.js";
import { GIT_REF, GIT_REF_EXPECTED } from "../protocol.js";
import { COMMIT_SHA } from "../safe-path.js";

/**
 * Builds as the REST API takes and serves them: the one source of their shapes. The routes
 * validate with these schemas, the client's types are inferred from them and `openapi.json` is
 * rendered from them (src/api/openapi.ts), so the three cannot drift apart.
 */

export const BUILD_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "error"] as const;
export const buildStatusSchema = z.enum(BUILD_STATUSES, { error: `expected one of ${BUILD_STATUSES.join(", ")}` });
export type BuildStatus = z.infer<typeof buildStatusSchema>;
/** The statuses a build never leaves. */
export const FINAL_STATUSES: readonly BuildStatus[] = ["succeeded", "failed", "cancelled", "error"];

export const triggerKindSchema = z.enum(["api", "push", "pull_request", "comment", "rerun", "retry"]);
export type TriggerKind = z.infer<typeof triggerKindSchema>;

export const outcomeSchema = z.enum(OUTCOME_CODES as [Outcome, ...Outcome[]]).describe("How a finished build ended (src/shared/outcome.ts)");

/**
 * One build command as it ran: the command (masked), its exit code (null when a signal ended
 * it) and how long it took.
 */
export const commandResultSchema = z.strictObject({
  command: z.string(),
  exitCode: z.nullable(z.number()),
  durationMs: z.number(),
  signal: z.optional(z.nullable(z.string())),
});

/** A build as stored and served. Never holds a token or secret. */
export const buildSchema = z.strictObject({
  key: z.string(),
  number: z.int().describe("The target's count of its builds, from 1, in the order they were queued; never reused"),
  target: z.string(),
  status: buildStatusSchema,
  ref: z.string().nullable(),
  sha: z.string().nullable().describe("The commit asked for (null: the branch head at build time)"),
  commit: z.string().nullable().describe("The exact commit that was built (known once the builder fetched it)"),
  trigger: triggerKindSchema,
  attempts: z.int(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  exitCode: z.int().nullable(),
  reason: z.string().nullable().describe("Why the build ended as it did (\"command 2 failed with exit code 1\", …)"),
  artifacts: z.array(z.string()),
  sizes: z.record(z.string(), z.int()),
  commands: z.array(commandResultSchema),
  repository: z.string().nullable().describe("GitHub owner/name, when the build came from GitHub"),
  installationId: z.int().nullable(),
  pullRequest: z.int().nullable(),
  untrusted: z.boolean().describe("A fork's pull request: built without the target's secrets and token"),
  meta: z.record(z.string(), z.unknown()),
  outcome: outcomeSchema.nullable().describe("How a finished build ended (null while queued or running)"),
});
export type Build = z.infer<typeof buildSchema>;

/** `POST /builds`. */
export const triggerRequestSchema = z.strictObject({
  target: z.string({ error: "expected a target name" }).min(1, { error: "expected a target name" }),
  ref: z.string().min(1).max(255).regex(GIT_REF, { error: GIT_REF_EXPECTED }).optional(),
  sha: z.string().regex(COMMIT_SHA, { error: "expected a commit sha (7-64 hex digits)" }).optional(),
});
export type TriggerBody = z.infer<typeof triggerRequestSchema>;

/** The query of `GET /builds` (newest first). */
export const buildListQuerySchema = z.object({
  target: z.string().optional(),
  status: buildStatusSchema.optional(),
  limit: z.coerce.number({ error: "expected a number from 1 to 1000" }).int().min(1).max(1000).optional().describe("At most this many (default 50)"),
});
export type BuildListQuery = z.infer<typeof buildListQuerySchema>;

export const buildListSchema = z.strictObject({ builds: z.array(buildSchema) });
