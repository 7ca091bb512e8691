/**
 * The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`.
 * test/api/openapi.test.ts keeps it in step with the routes express actually serves.
 */
import { OUTCOME_CODES } from "../shared/outcome.js";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ "application/json": { schema } });
const error = (description: string) => ({ description, content: json(ref("Error")) });
const key = { name: "key", in: "path", required: true, schema: { type: "string" } };
const name = { name: "name", in: "path", required: true, schema: { type: "string" } };
const id = { name: "id", in: "path", required: true, schema: { type: "string" } };
const common = { "401": error("Missing or wrong bearer token") };
const unsupported = error("Body not `application/json`, or sent with a Content-Encoding other than identity");

export const openapi = {
  openapi: "3.1.0",
  info: { title: "cicd", version: "1", description: "Builds, artifacts and runners of a cicd server." },
  security: [{ bearer: [] }],
  paths: {
    "/builds": {
      post: {
        summary: "Queue a build",
        requestBody: { required: true, content: json(ref("TriggerRequest")) },
        responses: { "202": { description: "Queued", content: json(ref("Build")) }, "400": error("Malformed JSON or fields"), "404": error("Unknown target"), "413": error("Body too large"), "415": unsupported, ...common },
      },
      get: {
        summary: "List builds, newest first",
        parameters: [
          { name: "target", in: "query", schema: { type: "string" } },
          { name: "status", in: "query", schema: ref("BuildStatus") },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 50 } },
        ],
        responses: { "200": { description: "Builds", content: json({ type: "object", properties: { builds: { type: "array", items: ref("Build") } } }) }, "400": error("Bad query"), ...common },
      },
    },
    "/builds/{key}": {
      get: { summary: "One build", parameters: [key], responses: { "200": { description: "The build", content: json(ref("Build")) }, "404": error("Unknown build"), ...common } },
    },
    "/builds/{key}/log": {
      get: {
        summary: "The build's log (masked); follow=1 streams until the build ends",
        parameters: [key, { name: "follow", in: "query", schema: { type: "string", enum: ["1", "true"] } }],
        responses: { "200": { description: "Log text", content: { "text/plain": { schema: { type: "string" } } } }, "404": error("Unknown build or no log yet"), ...common },
      },
    },
    "/builds/{key}/cancel": {
      post: { summary: "Cancel a queued or running build", parameters: [key], responses: { "200": { description: "The cancelled build", content: json(ref("Build")) }, "404": error("Unknown build"), "409": error("Build already finished"), ...common } },
    },
    "/targets": {
      get: { summary: "Configured targets", responses: { "200": { description: "Targets", content: json({ type: "object", properties: { targets: { type: "array", items: { type: "object" } } } }) }, ...common } },
    },
    "/builds/{key}/artifacts": {
      get: {
        summary: "A build's artifacts by key (a pull request's build is kept only here, never in builds.json)",
        parameters: [key],
        responses: { "200": { description: "Artifacts", content: json({ type: "object", required: ["artifacts"], properties: { key: { type: "string" }, artifacts: { type: "array", items: { type: "object", required: ["name", "size"], properties: { name: { type: "string" }, size: { type: "integer" } } } } } }) }, "404": error("Unknown build"), ...common },
      },
    },
    "/builds/{key}/artifacts/{file}": {
      get: {
        summary: "Download one of a build's artifacts (Range and ETag supported)",
        parameters: [key, { name: "file", in: "path", required: true, schema: { type: "string" } }, { name: "range", in: "header", schema: { type: "string" } }],
        responses: { "200": { description: "The file", content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } }, "206": { description: "Part of the file" }, "304": { description: "Not modified (If-None-Match)" }, "404": error("Unknown build or artifact"), "412": error("If-Match or If-Unmodified-Since does not match"), "416": { description: "Range outside the file; `Content-Range: bytes */SIZE`", content: json(ref("Error")) }, ...common },
      },
    },
    "/targets/{name}/artifacts": {
      get: { summary: "The target's builds.json", parameters: [name], responses: { "200": { description: "Metadata", content: json(ref("BuildsDocument")) }, "404": error("Unknown target"), ...common } },
    },
    "/targets/{name}/artifacts/{file}": {
      get: {
        summary: "Download an artifact (Range and ETag supported)",
        parameters: [name, { name: "file", in: "path", required: true, schema: { type: "string" } }, { name: "range", in: "header", schema: { type: "string" } }],
        responses: { "200": { description: "The file", content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } }, "206": { description: "Part of the file" }, "304": { description: "Not modified (If-None-Match)" }, "404": error("Unknown target or artifact"), "412": error("If-Match or If-Unmodified-Since does not match"), "416": { description: "Range outside the file; `Content-Range: bytes */SIZE`", content: json(ref("Error")) }, ...common },
      },
    },
    "/targets/{name}/runners": {
      post: {
        summary: "Create and start a runner for the target; with `build`, deploy that build (the target's running runners are replaced by one pinned to it)",
        parameters: [name],
        requestBody: { required: false, content: json({ type: "object", additionalProperties: false, properties: { build: { type: "string", description: "Key of a good build in the target's builds.json" } } }) },
        responses: { "201": { description: "The runner", content: json(ref("Runner")) }, "400": error("Malformed body"), "404": error("Unknown target"), "415": unsupported, "422": error("Target has no run command, or the build is not a good build of the target"), ...common },
      },
    },
    "/runners": {
      get: { summary: "List runners", parameters: [{ name: "target", in: "query", schema: { type: "string" } }], responses: { "200": { description: "Runners", content: json({ type: "object", properties: { runners: { type: "array", items: ref("Runner") } } }) }, ...common } },
    },
    "/runners/{id}": {
      get: { summary: "One runner: state, build it runs, restarts, last exit, decisions", parameters: [id], responses: { "200": { description: "The runner", content: json(ref("Runner")) }, "404": error("Unknown runner"), ...common } },
      delete: { summary: "Stop a runner", parameters: [id], responses: { "200": { description: "The stopped runner", content: json(ref("Runner")) }, "404": error("Unknown runner"), ...common } },
    },
  },
  components: {
    securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "CICD_API_TOKEN" } },
    schemas: {
      Error: { type: "object", required: ["error", "code"], properties: { error: { type: "string" }, code: { type: "string" } } },
      BuildStatus: { type: "string", enum: ["queued", "running", "succeeded", "failed", "cancelled", "error"] },
      TriggerRequest: { type: "object", required: ["target"], additionalProperties: false, properties: { target: { type: "string" }, ref: { type: "string" }, sha: { type: "string", pattern: "^[0-9a-fA-F]{7,64}$" } } },
      Build: {
        type: "object",
        required: ["key", "target", "status"],
        properties: {
          key: { type: "string" }, target: { type: "string" }, status: ref("BuildStatus"),
          ref: { type: ["string", "null"] }, sha: { type: ["string", "null"] }, commit: { type: ["string", "null"] },
          trigger: { type: "string" }, attempts: { type: "integer" },
          createdAt: { type: "string", format: "date-time" }, startedAt: { type: ["string", "null"] }, finishedAt: { type: ["string", "null"] },
          exitCode: { type: ["integer", "null"] }, reason: { type: ["string", "null"] },
          artifacts: { type: "array", items: { type: "string" } }, sizes: { type: "object", additionalProperties: { type: "integer" } },
          commands: { type: "array", items: { type: "object", properties: { command: { type: "string" }, exitCode: { type: ["integer", "null"] }, durationMs: { type: "number" } } } },
          outcome: { description: "How a finished build ended (null while queued or running)", enum: [...OUTCOME_CODES, null] },
        },
      },
      BuildsDocument: {
        type: "object",
        required: ["target", "builds"],
        properties: {
          target: { type: "string" },
          builds: { type: "array", items: { type: "object", required: ["key", "status", "createdAt", "artifacts"], properties: { key: { type: "string" }, status: { type: "string", enum: ["good", "bad"] }, createdAt: { type: "string" }, commit: { type: ["string", "null"] }, ref: { type: ["string", "null"] }, artifacts: { type: "array", items: { type: "string" } } } } },
        },
      },
      Runner: {
        type: "object",
        required: ["id", "target", "state"],
        properties: {
          id: { type: "string" }, target: { type: "string" }, state: { type: "string", enum: ["running", "exited", "stopped"] }, running: { type: "boolean" },
          build: { type: ["string", "null"] }, pinned: { type: ["string", "null"] }, replaced: { type: "array", items: { type: "string" }, description: "Runners a deploy stopped" }, restarts: { type: "integer" }, exitCode: { type: ["integer", "null"] },
          lastExit: { type: ["object", "null"] }, decisions: { type: "array", items: { type: "object" } },
        },
      },
    },
  },
} as const;
