import { z } from "zod";

/*
 * The shapes of the webhook payloads cicd acts on: every field a handler (src/handlers/) reads,
 * with the type it relies on, so that a validly signed delivery of another shape is refused with
 * a 400 that names the field instead of failing inside a handler (a TypeError, a value SQLite
 * cannot store). Objects are loose: fields nobody reads are not checked. A handler that starts
 * reading a new field adds it here.
 */

const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const sha = z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, "expected a commit sha");
const fullName = z.string().regex(/^[\w.-]{1,100}\/[\w.-]{1,100}$/, "expected owner/name");
// What git allows in a ref name, roughly; builds pass refs to git.
const refChars = /^[^\s~^:?*[\\\p{Cc}]{1,1000}$/u;
const ref = z.string().regex(/^refs\//, "expected a ref (refs/…)").regex(refChars, "expected a git ref name");
const branch = z.string().regex(refChars, "expected a branch name");
const login = z.string().min(1).max(255);
const user = z.looseObject({ login, type: z.string().optional() });
const installation = z.looseObject({ id });
const repo = z.looseObject({ full_name: fullName });
const repository = z.looseObject({ full_name: fullName, default_branch: branch });
const pullRequests = z.array(
  z.looseObject({
    number: id,
    head: z.looseObject({ repo: z.looseObject({ id }) }),
    base: z.looseObject({ repo: z.looseObject({ id }) }),
  }),
);

/** push and pull_request: queued without Probot (direct-events.ts). */
export const directEventShapes = {
  push: z.looseObject({
    ref,
    after: sha,
    deleted: z.boolean().optional(),
    head_commit: z.looseObject({ message: z.string() }).nullish(),
    repository,
    installation: installation.nullish(),
  }),
  pull_request: z.looseObject({
    action: z.string(),
    pull_request: z.looseObject({
      number: id,
      head: z.looseObject({ sha, repo: repo.nullable() }),
      base: z.looseObject({ repo }),
    }),
    installation: installation.nullish(),
  }),
} satisfies Record<string, z.ZodType>;

/**
 * The events Probot's handlers take (register-handlers.ts). They talk to GitHub as the
 * installation, so the installation is required.
 */
export const probotEventShapes = {
  issue_comment: z.looseObject({
    action: z.string(),
    comment: z.looseObject({ id, body: z.string().nullish(), user: user.nullish() }),
    issue: z.looseObject({ number: id }),
    sender: user,
    repository,
    installation,
  }),
  check_run: z.looseObject({
    action: z.string(),
    check_run: z.looseObject({
      name: z.string(),
      external_id: z.string().nullish(),
      head_sha: sha,
      check_suite: z.looseObject({ head_branch: branch.nullish() }).nullish(),
      pull_requests: pullRequests,
    }),
    requested_action: z.looseObject({ identifier: z.string() }).nullish(),
    sender: user,
    repository: repo,
    installation,
  }),
  check_suite: z.looseObject({
    action: z.string(),
    check_suite: z.looseObject({ head_sha: sha, head_branch: branch.nullish(), pull_requests: pullRequests }),
    repository: repo,
    installation,
  }),
} satisfies Record<string, z.ZodType>;

const shapes: Record<string, z.ZodType> = { ...directEventShapes, ...probotEventShapes };

/**
 * What is wrong with `payload` for event `name` (`"repository.full_name: expected owner/name"`),
 * or undefined when cicd can act on it. Every payload must be a JSON object; events cicd does
 * not act on are not checked further.
 */
export function payloadProblem(name: string, payload: unknown): string | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return `the ${name} payload must be a JSON object`;
  const shape = Object.hasOwn(shapes, name) ? shapes[name] : undefined;
  const issue = shape?.safeParse(payload).error?.issues[0];
  if (!issue) return undefined;
  const field = issue.path.map(String).join(".");
  return `the ${name} payload does not have the expected shape: ${field ? `${field}: ` : ""}${issue.message}`;
}
