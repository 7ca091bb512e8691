// zod/mini: the same validation at a fraction of the size. The builder and runner run in
// containers from one bundle, and the full zod was three quarters of it (slower to boot).
import * as z from "zod/mini";
import { BUILD_KEY, COMMIT_SHA, TARGET_NAME } from "./safe-path.js";

/**
 * The wire protocol between the manager and a builder. Both sides validate with these schemas.
 *
 * Manager → builder: `POST /build` with a BuildRequest → `202 {"status":"accepted","key"}` or
 * `409 {"status":"busy","key": <running key>}`; `GET /status` → BuilderStatus.
 *
 * Builder → manager: each BuilderEvent is POSTed as JSON to the manager URL given at start, with
 * `Authorization: Bearer <manager token>` (one token per builder), retried with back-off while
 * the manager is unreachable. A builder that publishes itself (`--servicefs`) makes builds.json
 * the record; one started by a manager (`--publish-to manager`) first sends its artifacts
 * (see builder/upload-artifacts.ts) and the manager publishes them when `success` names them.
 */
/**
 * A branch, tag or ref name as git allows it (git check-ref-format, loosely): never starting with
 * `-` (git would read it as an option), no `..`, spaces, control characters or `~^:?*[\`.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
export const GIT_REF = /^(?!-)(?!.*\.\.)[^\s~^:?*[\\\x00-\x1f\x7f]+$/;
export const GIT_REF_EXPECTED = "expected a branch, tag or ref name";
const gitRef = z.string().check(z.minLength(1), z.maxLength(255), z.regex(GIT_REF, { error: GIT_REF_EXPECTED }));

const nonEmpty = (error: string) => z.array(z.string().check(z.minLength(1))).check(z.minLength(1, { error }));

export const buildRequestSchema = z.strictObject({
  key: z.string().check(z.regex(BUILD_KEY, { error: "expected a build key of 6-64 letters, digits, - or _" })),
  target: z.string().check(z.regex(TARGET_NAME, { error: "expected a target name" })),
  url: z.string().check(z.minLength(1, { error: "expected a source URL" })),
  ref: z.optional(gitRef),
  sha: z.optional(z.string().check(z.regex(COMMIT_SHA, { error: "expected a commit sha" }))),
  commands: nonEmpty("expected a non-empty list of commands"),
  artifacts: nonEmpty("expected a non-empty list of artifact patterns"),
  token: z.optional(z.string().check(z.minLength(1))),
  env: z.optional(z.record(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)), z.string())),
  /** The target's plain environment (not secret, not masked): for the fetch and the commands. */
  vars: z.optional(z.record(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)), z.string())),
  /** Extra CA certificates (PEM) the fetch and the commands trust. */
  caCertificates: z.optional(z.string().check(z.minLength(1))),
  /** Values to mask in output besides the token and env values (e.g. an installation token). */
  mask: z.optional(z.array(z.string())),
  /** Extra fields recorded in builds.json (trigger, …). Never secrets. */
  meta: z.optional(z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))),
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

/** A file a builder sent to the manager (`PUT …/artifacts/<index>`), as its `success` event lists it. */
export const artifactUploadSchema = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(255)),
  size: z.number(),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
});
export type ArtifactUpload = z.infer<typeof artifactUploadSchema>;

const base = { builderId: z.string(), at: z.string() };
const commandResult = z.object({ command: z.string(), exitCode: z.nullable(z.number()), durationMs: z.number(), signal: z.optional(z.nullable(z.string())) });
/**
 * One build command as it ran: the command (masked), its exit code (null when a signal ended
 * it) and how long it took. The one shape for the builder, the wire, the store and the API.
 */
export type CommandResult = z.infer<typeof commandResult>;
const commandResults = z.optional(z.array(commandResult));
/** How long the builder spent in each phase of a build, in ms (a phase it never reached is left out). */
const phases = z.optional(z.object({ fetchMs: z.optional(z.number()), commandsMs: z.optional(z.number()), publishMs: z.optional(z.number()) }));
export type BuildPhases = NonNullable<z.infer<typeof phases>>;
export const builderEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), ...base, port: z.int(), pid: z.optional(z.int()) }),
  z.object({ type: z.literal("started"), ...base, key: z.string() }),
  z.object({
    type: z.literal("success"),
    ...base,
    key: z.string(),
    exitCode: z.literal(0),
    durationMs: z.number(),
    commit: z.nullable(z.string()),
    artifacts: z.array(z.string()),
    sizes: z.optional(z.record(z.string(), z.number())),
    /**
     * The files sent to the manager, in order (builders started by a manager). The manager
     * publishes them only if each arrived whole with this checksum.
     */
    uploads: z.optional(z.array(artifactUploadSchema)),
    commands: commandResults,
    phases,
  }),
  z.object({
    type: z.literal("failure"),
    ...base,
    key: z.string(),
    exitCode: z.nullable(z.number()),
    durationMs: z.number(),
    commit: z.nullable(z.string()),
    reason: z.string(),
    /** Index of the command that failed, when a command failed (not the fetch or publish). */
    failedCommand: z.optional(z.int()),
    /**
     * What failed, as a catalogue code: COMMAND_FAILED, SOURCE_FETCH_FAILED, ARTIFACT_NOT_FOUND,
     * … and CANCELLED when the builder was stopped (by the manager, or from outside: then the
     * manager tries the build again, since the build itself did nothing wrong).
     */
    code: z.optional(z.string()),
    commands: commandResults,
    phases,
  }),
]);
export type BuilderEvent = z.infer<typeof builderEventSchema>;
