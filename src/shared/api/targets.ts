import { z } from "zod";

/** Targets and their artifacts as the REST API serves them (see builds.ts for why here). */

/** A configured target (`GET /targets`): what it builds and how its runner starts builds. */
export const targetSummarySchema = z.strictObject({
  name: z.string(),
  repository: z.string().nullable(),
  branches: z.array(z.string()),
  image: z.string(),
  timeoutMs: z.number(),
  run: z
    .strictObject({
      command: z.string(),
      image: z.string().optional(),
      autoDeploy: z.boolean(),
      watch: z.boolean(),
      ports: z.array(z.string()),
      probationMs: z.number().optional(),
    })
    .nullable(),
  disk: z
    .strictObject({
      servicefs: z.number().describe("Bytes of its service file system folder: builds.json and the published artifacts"),
      logs: z.number().describe("Bytes of its builds' logs"),
      artifacts: z.number().describe("Bytes of its builds' artifacts kept by key (pull requests)"),
      total: z.number(),
      measuredAt: z.string().describe("When it was measured (refreshed every few minutes, and after a clean-up)"),
    })
    .nullable()
    .optional()
    .describe("Disk space the target's data uses; null until first measured"),
});
export type TargetSummary = z.infer<typeof targetSummarySchema>;
export const targetListSchema = z.strictObject({ targets: z.array(targetSummarySchema) });

/** One build in a target's `builds.json` (the contract's fields first; more may follow). */
export const buildRecordSchema = z.looseObject({
  key: z.string(),
  status: z.enum(["good", "bad"]),
  createdAt: z.string(),
  commit: z.string().nullable(),
  ref: z.string().nullable(),
  artifacts: z.array(z.string()),
  sizes: z.record(z.string(), z.number()).optional().describe("Size in bytes of each artifact, by file name"),
  durationMs: z.number().optional(),
  markedBadAt: z.string().optional().describe("Set when a runner marked the build bad"),
  exitCode: z.number().nullable().optional(),
  signal: z.string().nullable().optional(),
  reason: z.string().optional(),
});
export type BuildRecord = z.infer<typeof buildRecordSchema>;

/** A target's `builds.json`, oldest first: "newest" is the last entry. */
export const buildsDocumentSchema = z.strictObject({ target: z.string(), builds: z.array(buildRecordSchema) });
export type BuildsDocument = z.infer<typeof buildsDocumentSchema>;

/** One file a build produced, kept by its key. */
export const buildArtifactSchema = z.strictObject({ name: z.string(), size: z.int() });
export type BuildArtifact = z.infer<typeof buildArtifactSchema>;
/** `GET /builds/:key/artifacts`: a pull request's build is kept only here, never in builds.json. */
export const buildArtifactListSchema = z.strictObject({ key: z.string(), artifacts: z.array(buildArtifactSchema) });

/**
 * `POST /targets/:name/builds/:key/mark-bad`: why a runner gave up on a build (what a runner on
 * the manager's disk writes into builds.json itself). Every field is optional.
 */
export const markBadRequestSchema = z.strictObject({
  reason: z.string().max(2000).optional().describe("Why, in words (e.g. `exited with code 3 after 2s`)"),
  exitCode: z.int().nullable().optional().describe("The program's exit code, when it exited"),
  signal: z.string().max(20).nullable().optional().describe("The signal that ended the program, when one did"),
});
export type MarkBadRequest = z.infer<typeof markBadRequestSchema>;
