/**
 * The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`, rendered from the
 * zod schemas of src/shared/api/ (the ones the routes validate with and the client's types come
 * from). test/api/openapi-and-client.test.ts keeps its paths in step with the routes express
 * serves, and every JSON answer of a real server in step with the schema this table names.
 */
import { z } from "zod";
import { buildListQuerySchema, buildListSchema, buildSchema, buildStatusSchema, outcomeSchema, triggerRequestSchema } from "../shared/api/builds.js";
import { apiErrorSchema } from "../shared/api/errors.js";
import { createRunnerSchema, runnerListSchema, runnerViewSchema } from "../shared/api/runners.js";
import { buildArtifactListSchema, buildRecordSchema, buildsDocumentSchema, markBadRequestSchema, targetListSchema, targetSummarySchema } from "../shared/api/targets.js";

/** The named schemas of `components.schemas`: a schema listed here is written as a `$ref`. */
const components = new Map<z.ZodType, string>([
  [apiErrorSchema, "Error"],
  [buildStatusSchema, "BuildStatus"],
  [outcomeSchema, "Outcome"],
  [triggerRequestSchema, "TriggerRequest"],
  [buildSchema, "Build"],
  [buildListSchema, "BuildList"],
  [targetSummarySchema, "Target"],
  [targetListSchema, "TargetList"],
  [buildRecordSchema, "BuildRecord"],
  [buildsDocumentSchema, "BuildsDocument"],
  [buildArtifactListSchema, "BuildArtifactList"],
  [runnerViewSchema, "Runner"],
  [runnerListSchema, "RunnerList"],
  [createRunnerSchema, "RunnerCreateRequest"],
  [markBadRequestSchema, "MarkBadRequest"],
]);

/** What an answer carries: JSON of a schema, a file, log text, Server-Sent Events, or nothing. */
type Body = z.ZodType | "file" | "text" | { events: string } | undefined;

interface Operation {
  summary: string;
  path?: readonly string[];
  query?: z.ZodObject;
  /** Header parameters (Range, Last-Event-ID). */
  headers?: readonly string[];
  body?: { schema: z.ZodType; required: boolean };
  responses: Readonly<Record<string, { description: string; body?: Body }>>;
}

const error = (description: string) => ({ description, body: apiErrorSchema });
const common = { "401": error("Missing or wrong bearer token") };
const unsupported = error("Body not `application/json`, or sent with a Content-Encoding other than identity");
const download = (what: string) => ({
  "200": { description: "The file", body: "file" as const },
  "206": { description: "Part of the file" },
  "304": { description: "Not modified (If-None-Match)" },
  "404": error(`Unknown ${what} or artifact`),
  "412": error("If-Match or If-Unmodified-Since does not match"),
  "416": error("Range outside the file; `Content-Range: bytes */SIZE`"),
  ...common,
});

/** Every operation of `/api/v1`: path → method → operation. */
export const operations: Readonly<Record<string, Readonly<Record<string, Operation>>>> = {
  "/builds": {
    post: {
      summary: "Queue a build",
      body: { schema: triggerRequestSchema, required: true },
      responses: { "202": { description: "Queued", body: buildSchema }, "400": error("Malformed JSON or fields"), "404": error("Unknown target"), "413": error("Body too large"), "415": unsupported, ...common },
    },
    get: {
      summary: "List builds, newest first",
      query: buildListQuerySchema,
      responses: { "200": { description: "Builds", body: buildListSchema }, "400": error("Bad query"), ...common },
    },
  },
  "/builds/{key}": {
    get: { summary: "One build", path: ["key"], responses: { "200": { description: "The build", body: buildSchema }, "404": error("Unknown build"), ...common } },
  },
  "/builds/{key}/log": {
    get: {
      summary: "The build's log (masked); follow=1 streams until the build ends, as Server-Sent Events with `Accept: text/event-stream`",
      path: ["key"],
      query: z.object({ follow: z.enum(["1", "true"]).optional() }),
      headers: ["last-event-id"],
      responses: {
        "200": {
          description: "Log text; or, with follow=1 and `Accept: text/event-stream`, one event per line (`id` = its line number from 1, `data:` the line), then `event: end` with the build's JSON once it has ended. `Last-Event-ID: N` resumes at line N+1.",
          body: { events: "text/plain" },
        },
        "400": error("Last-Event-ID is not a line number"),
        "404": error("Unknown build or no log yet"),
        ...common,
      },
    },
  },
  "/events": {
    get: {
      summary: "Server-Sent Events: `event: build` with the build's JSON on every status change (comments keep the stream open)",
      query: z.object({ target: z.string().optional().describe("Only this target's builds") }),
      responses: { "200": { description: "`text/event-stream` of `event: build`, `data:` a Build", body: { events: "Build" } }, ...common },
    },
  },
  "/targets/{name}/builds/{number}": {
    get: { summary: "A target's build by its number (1, 2, 3 … in the order its builds were queued)", path: ["name", "number"], responses: { "200": { description: "The build", body: buildSchema }, "400": error("Not a build number"), "404": error("No such build of the target"), ...common } },
  },
  "/builds/{key}/cancel": {
    post: { summary: "Cancel a queued or running build", path: ["key"], responses: { "200": { description: "The cancelled build", body: buildSchema }, "404": error("Unknown build"), "409": error("Build already finished"), ...common } },
  },
  "/targets": {
    get: { summary: "Configured targets", responses: { "200": { description: "Targets", body: targetListSchema }, ...common } },
  },
  "/builds/{key}/artifacts": {
    get: {
      summary: "A build's artifacts by key (a pull request's build is kept only here, never in builds.json)",
      path: ["key"],
      responses: { "200": { description: "Artifacts", body: buildArtifactListSchema }, "404": error("Unknown build"), ...common },
    },
  },
  "/builds/{key}/artifacts/{file}": {
    get: { summary: "Download one of a build's artifacts (Range and ETag supported)", path: ["key", "file"], headers: ["range"], responses: download("build") },
  },
  "/targets/{name}/artifacts": {
    get: { summary: "The target's builds.json", path: ["name"], responses: { "200": { description: "Metadata", body: buildsDocumentSchema }, "404": error("Unknown target"), ...common } },
  },
  "/targets/{name}/artifacts/{file}": {
    get: { summary: "Download an artifact (Range and ETag supported)", path: ["name", "file"], headers: ["range"], responses: download("target") },
  },
  "/targets/{name}/builds/{key}/mark-bad": {
    post: {
      summary: "Mark a build of the target's builds.json bad (what `cicd runner --api` does when the build fails); a build already bad is answered unchanged",
      path: ["name", "key"],
      body: { schema: markBadRequestSchema, required: false },
      responses: { "200": { description: "The build's builds.json entry", body: buildRecordSchema }, "400": error("Malformed body"), "404": error("Unknown target, or no such build in its builds.json"), "415": unsupported, ...common },
    },
  },
  "/targets/{name}/runners": {
    post: {
      summary: "Create and start a runner for the target; with `build`, deploy that build (the target's running runners are replaced by one pinned to it)",
      path: ["name"],
      body: { schema: createRunnerSchema, required: false },
      responses: { "201": { description: "The runner", body: runnerViewSchema }, "400": error("Malformed body"), "404": error("Unknown target"), "415": unsupported, "422": error("Target has no run command, or the build is not a good build of the target"), ...common },
    },
  },
  "/runners": {
    get: { summary: "List runners", query: z.object({ target: z.string().optional() }), responses: { "200": { description: "Runners", body: runnerListSchema }, ...common } },
  },
  "/runners/{id}/log": {
    get: {
      summary: "The deployed program's output (stdout and stderr of every build the runner ran); follow=1 streams until the runner stops",
      path: ["id"],
      query: z.object({ follow: z.enum(["1", "true"]).optional() }),
      responses: { "200": { description: "Output text", body: "text" }, "404": error("Unknown runner or no output yet"), ...common },
    },
  },
  "/runners/{id}": {
    get: { summary: "One runner: state, build it runs, restarts, last exit, decisions", path: ["id"], responses: { "200": { description: "The runner", body: runnerViewSchema }, "404": error("Unknown runner"), ...common } },
    delete: { summary: "Stop a runner", path: ["id"], responses: { "200": { description: "The stopped runner", body: runnerViewSchema }, "404": error("Unknown runner"), ...common } },
  },
};

/**
 * The schema of the JSON a route answers with `status` (`path` as documented, `/builds/{key}`);
 * undefined when that answer is not JSON or not documented.
 */
export function answerSchema(method: string, path: string, status: number): z.ZodType | undefined {
  const body = operations[path]?.[method.toLowerCase()]?.responses[String(status)]?.body;
  return typeof body === "object" && !("events" in body) ? body : undefined;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * Leaves out what zod writes only to be exact for its own validator: the regular expression
 * behind `format: date-time`, and the safe-integer bounds of every integer.
 */
const plain = {
  unrepresentable: "any",
  override: ({ jsonSchema: s }: { jsonSchema: Record<string, unknown> }) => {
    if (s.format === "date-time") delete s.pattern;
    if (s.type === "integer" && s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
    if (s.type === "integer" && s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
  },
} as const;

/** A schema as it appears inside the document: a `$ref` to a named one, else inline. */
function schemaOf(schema: z.ZodType, io: "input" | "output" = "output"): Record<string, unknown> {
  const name = components.get(schema);
  if (name) return ref(name);
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { ...plain, io }) as Record<string, unknown>;
  return rest;
}

function parametersOf(op: Operation): Record<string, unknown>[] {
  const path = (op.path ?? []).map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
  const query = Object.entries(op.query?.shape ?? {}).map(([name, field]) => {
    const optional = field instanceof z.ZodOptional;
    const inner = (optional ? field.unwrap() : field) as z.ZodType;
    // A query string holds text: describe what it must read as (limit: an integer), not its coerced form.
    return { name, in: "query", ...(optional ? {} : { required: true }), ...(field.description ? { description: field.description } : {}), schema: schemaOf(inner, "input") };
  });
  const headers = (op.headers ?? []).map((name) => ({ name, in: "header", schema: { type: "string" } }));
  return [...path, ...query, ...headers];
}

function contentOf(body: Body): Record<string, unknown> | undefined {
  if (body === undefined) return undefined;
  if (body === "file") return { "application/octet-stream": { schema: { type: "string", format: "binary" } } };
  if (body === "text") return { "text/plain": { schema: { type: "string" } } };
  // A stream: its events are described in the operation's text; a plain log is the other answer.
  if (typeof body === "object" && "events" in body) {
    const stream = { "text/event-stream": { schema: { type: "string" } } };
    return body.events === "text/plain" ? { "text/plain": { schema: { type: "string" } }, ...stream } : stream;
  }
  return { "application/json": { schema: schemaOf(body) } };
}

function renderOpenApi(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of components) registry.add(schema, { id });
  const rendered = z.toJSONSchema(registry, { ...plain, uri: (id) => `#/components/schemas/${id}` }).schemas;
  const schemas = Object.fromEntries(Object.entries(rendered).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
  const paths = Object.fromEntries(
    Object.entries(operations).map(([path, methods]) => [
      path,
      Object.fromEntries(
        Object.entries(methods).map(([method, op]) => {
          const parameters = parametersOf(op);
          const responses = Object.fromEntries(Object.entries(op.responses).map(([status, r]) => [status, { description: r.description, ...(r.body ? { content: contentOf(r.body) } : {}) }]));
          return [
            method,
            {
              summary: op.summary,
              ...(parameters.length ? { parameters } : {}),
              ...(op.body ? { requestBody: { required: op.body.required, content: contentOf(op.body.schema) } } : {}),
              responses,
            },
          ];
        }),
      ),
    ]),
  );
  return {
    openapi: "3.1.0",
    info: { title: "cicd", version: "1", description: "Builds, artifacts and runners of a cicd server." },
    security: [{ bearer: [] }],
    paths,
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "CICD_API_TOKEN" } }, schemas },
  };
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
}

let rendered: OpenApiDocument | undefined;

/** The document, rendered on first use: a server that is never asked for it never pays for it. */
export function openapiDocument(): OpenApiDocument {
  rendered ??= renderOpenApi() as unknown as OpenApiDocument;
  return rendered;
}
