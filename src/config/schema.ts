import { z } from "zod";
import { TARGET_NAME } from "../shared/safe-path.js";

/**
 * The schema of `cicd.yml`. Every message here reads as "expected …" so that the loader can
 * print `cicd.yml: targets[1].commands: expected a non-empty list of strings`.
 * schema/cicd.schema.json is generated from this (`npm run schema`) and checked by a test.
 */
const duration = z
  .union([z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h))+$|^\d+$/, { error: "expected a duration like 30s, 10m or 1h30m" }), z.number().nonnegative()], {
    error: "expected a duration like 30s, 10m or 1h30m",
  })
  .describe("A duration: 500ms, 30s, 30m, 1h30m, or a number of seconds.");

const nonEmptyStrings = (what: string) =>
  z
    .array(z.string({ error: `expected ${what} to be strings` }).min(1, { error: `expected non-empty ${what}` }), {
      error: "expected a non-empty list of strings",
    })
    .min(1, { error: "expected a non-empty list of strings" });

const limits = z
  .strictObject({
    memory: z
      .string()
      .regex(/^\d+(\.\d+)?[kmg]?b?$/i, { error: "expected a size like 512m or 2g" })
      .optional()
      .describe("Memory limit of each build container (no swap beyond it)."),
    cpus: z.number({ error: "expected a number of CPUs" }).positive().optional(),
    pids: z.number({ error: "expected a whole number" }).int().positive().optional(),
  })
  .describe("Resource limits of build and runner containers.");

/**
 * Retention (`keep`): a target's finished builds past `builds`, or older than `days`, are deleted
 * (record, log, artifacts) — never the newest `good` good builds of builds.json, a build a runner
 * runs or is pinned to, or a queued or running build (manager/retention.ts). Every field is
 * optional here: a target's fields override the server's `keep`, whose fields have defaults.
 */
const keepFields = {
  builds: z.number({ error: "expected a whole number of builds (0: no limit)" }).int().min(0, { error: "expected a whole number of builds (0: no limit)" })
    .describe("Finished builds (any status) kept per target; older ones are deleted. 0: no limit."),
  days: z.number({ error: "expected a number of days (0: no limit)" }).min(0, { error: "expected a number of days (0: no limit)" })
    .describe("Finished builds older than this many days are deleted. 0: no limit."),
  good: z.number({ error: "expected a whole number of good builds" }).int().min(0, { error: "expected a whole number of good builds" })
    .describe("The newest good builds of builds.json kept whatever builds and days say (what a runner falls back to)."),
};

/** The server's defaults: 100 builds per target, no age limit, the newest 3 good builds always kept. */
export const KEEP_DEFAULTS = { builds: 100, days: 0, good: 3 } as const;

const targetKeep = z
  .strictObject({ builds: keepFields.builds.optional(), days: keepFields.days.optional(), good: keepFields.good.optional() })
  .describe("Retention of this target's builds; each field set here overrides the server's keep.");

const serverKeep = z
  .strictObject({
    builds: keepFields.builds.default(KEEP_DEFAULTS.builds),
    days: keepFields.days.default(KEEP_DEFAULTS.days),
    good: keepFields.good.default(KEEP_DEFAULTS.good),
  })
  .describe("Retention of every target's builds (a target's keep overrides it field by field).");

export const runSchema = z
  .strictObject({
    command: z.string({ error: "expected a command containing {file}, e.g. \"java -jar {file}\"" }).min(1),
    image: z.string().min(1).optional().describe("Image for runner containers (default cicd-runner)."),
    autoDeploy: z.boolean().default(false).describe("After every good build, move the target's runner to it."),
    probation: duration.optional().describe("A build that crashes after running longer than this is restarted with back-off instead of marked bad."),
    watch: z.boolean().default(true).describe("Runners switch to a newer good build when one appears."),
    ports: z.array(z.string()).default([]).describe("Ports to publish from runner containers, docker style (8080:8080)."),
  })
  .describe("How a runner starts this target's builds.");

/** What a target's `notify` hooks can be told: a finished build's status, or a runner falling back. */
export const NOTIFY_EVENTS = ["succeeded", "failed", "error", "fallback"] as const;

const notifySchema = z
  .strictObject({
    url: z.string({ error: "expected an http:// or https:// URL" }).regex(/^https?:\/\/[^\s]+$/i, { error: "expected an http:// or https:// URL" })
      .describe("Where the notification is POSTed (often carries a token: it is never logged nor shown)."),
    secret: z.string().min(1, { error: "expected a non-empty secret" }).optional()
      .describe("Signs each body: X-Cicd-Signature-256: sha256=<HMAC-SHA256 of the body>; ${VAR} reads the environment."),
    events: z.array(z.enum(NOTIFY_EVENTS, { error: `expected events among ${NOTIFY_EVENTS.join(", ")}` }), { error: `expected a list of events among ${NOTIFY_EVENTS.join(", ")}` })
      .min(1, { error: "expected at least one event" })
      .default([...NOTIFY_EVENTS])
      .describe("Which events are sent (default: all)."),
    format: z.enum(["generic", "slack"], { error: "expected generic or slack" }).default("generic")
      .describe("generic: {\"event\", \"build\"}; slack: an incoming webhook's {\"text\"}."),
  })
  .describe("A webhook told when a build ends or a runner falls back; retried with back-off.");

export const targetSchema = z
  .strictObject({
    name: z.string({ error: "expected a name" }).regex(TARGET_NAME, { error: "expected a name matching [a-z0-9][a-z0-9._-]*" }).max(100),
    repository: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: "expected owner/name of a GitHub repository" })
      .optional()
      .describe("GitHub repository whose events trigger this target."),
    url: z
      .string({ error: "expected a URL: https://…, ssh://…, git@host:…, file://PATH, files://PATH or servicefs://PATH" })
      .regex(/^(https?:\/\/|ssh:\/\/|git@|file:\/\/|files:\/\/|servicefs:\/\/)/, {
        error: "expected a URL: https://…, ssh://…, git@host:…, file://PATH, files://PATH or servicefs://PATH",
      }),
    branches: z.array(z.string().min(1)).default([]).describe("Pushes to these branches build (empty: the default branch)."),
    tags: z.boolean().default(false).describe("Build pushed tags too."),
    pullRequests: z.boolean().default(true).describe("Build pull requests."),
    token: z.string().optional().describe("Token for private repositories; ${VAR} reads the environment."),
    secrets: z.string().optional()
      .describe("Path to a KEY=VALUE file (KEY<<EOF … EOF for multi-line values), or to a folder with one file per secret, handed to the build as env, masked in output; values must be at least 8 characters."),
    commands: nonEmptyStrings("commands"),
    artifacts: nonEmptyStrings("artifact patterns"),
    image: z.string().min(1).default("cicd-builder"),
    timeout: duration.default("30m"),
    cache: z.array(z.string().regex(/^\//, { error: "expected absolute paths inside the build container" })).default([])
      .describe("Folders kept between builds of this target (e.g. /root/.m2)."),
    limits: limits.optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "expected variable names like HTTPS_PROXY" }), z.string(), { error: "expected a mapping of variable names (like HTTPS_PROXY) to values" }).default({})
      .describe("Environment for the build's fetch and commands (proxies, settings; not secret: use `secrets` for those). CICD_*, CI and HOME are the builder's."),
    caCertificates: z.string().min(1).optional()
      .describe("PEM file of extra CA certificates the build trusts besides the system's (a company CA, a TLS-intercepting proxy): for the fetch, and for the commands through SSL_CERT_FILE, GIT_SSL_CAINFO, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE and NODE_EXTRA_CA_CERTS."),
    placement: z.array(z.string().regex(/^\s*[\w.-]+\s*(==|!=)\s*\S+\s*$/, { error: "expected a Swarm constraint like node.labels.arch==arm64" }), { error: "expected a list of Swarm constraints" }).default([])
      .describe("With executor swarm: constraints that pick the nodes this target's builders and runners run on (e.g. node.labels.arch==arm64); limits become resource limits and reservations."),
    supersede: z.union([z.boolean(), z.literal("running")], { error: "expected true, false or running" }).default(true)
      .describe("A newer trigger of the same branch (or pull request) cancels its queued builds; `running` also stops a running build of an older commit."),
    reuse: z.number({ error: "expected a number of builds" }).int().min(1).max(100).default(1)
      .describe("How many builds of this target one builder container may serve one after another (each in a fresh work tree): 1 starts a container per build. Never for pull requests from forks; a builder whose build failed, timed out or was stopped is not reused. Executors whose builders the manager reaches (docker, local)."),
    workspace: z.enum(["fresh", "incremental"], { error: "expected fresh or incremental" }).default("fresh")
      .describe("`incremental` keeps the target's last work tree and updates it (git checkout, git clean -ffdx) instead of writing every file: for large repositories. Remote git sources with the git cache only, on executors that isolate builds; never for pull requests from forks; one build at a time uses it (a second one at once checks out fresh)."),
    user: z.string().regex(/^(root|\d+(:\d+)?)$/, { error: "expected a uid, uid:gid (e.g. 1000:1000) or root" }).optional()
      .describe("User the build's commands run as inside the builder (default 1000:1000, unprivileged; root gives the commands root inside the container)."),
    run: runSchema.optional(),
    keep: targetKeep.optional(),
    notify: z.array(notifySchema, { error: "expected a list of {url, secret?, events?, format?}" }).default([])
      .describe("Webhooks told when a build ends (succeeded, failed, error) or a runner falls back."),
  })
  .describe("A build target.");

export const configSchema = z
  .strictObject({
    port: z.number({ error: "expected a port number" }).int().min(0).max(65535).default(3000),
    host: z.string().default("0.0.0.0").describe("Address the server listens on."),
    publicUrl: z.string().url({ error: "expected an absolute URL" }).optional()
      .describe("URL users reach the server at; used for links in check runs."),
    callbackHost: z.string().optional()
      .describe("Address builders use to reach the server (default: host.docker.internal with Docker, 127.0.0.1 with the local executor)."),
    servicefs: z.string().min(1).default("./data/servicefs"),
    database: z.string().min(1).default("./data/cicd.sqlite"),
    executor: z.enum(["docker", "swarm", "local"], { error: "expected docker, swarm or local" }).default("docker"),
    docker: z
      .strictObject({
        host: z.string().regex(/^(unix|tcp|ssh):\/\//, { error: "expected unix:///path/to/docker.sock, tcp://host:port or ssh://user@host" }).optional()
          .describe("The engine of the docker and swarm executors (default: DOCKER_HOST, else the local socket)."),
        tls: z
          .strictObject({
            ca: z.string().min(1).describe("CA certificate the engine's certificate is signed by (PEM file)."),
            cert: z.string().min(1).describe("Client certificate (PEM file)."),
            key: z.string().min(1).describe("Client key (PEM file)."),
          })
          .optional()
          .describe("Client certificate for a tcp:// engine started with --tlsverify (default: DOCKER_TLS_VERIFY with DOCKER_CERT_PATH)."),
        sshConfig: z.string().min(1).optional()
          .describe("For an ssh:// host: the ssh_config file the connection uses (default: the user's ~/.ssh/config); known_hosts, keys and the agent apply as for the docker CLI."),
      })
      .optional()
      .describe("Which Docker engine to use; paths are relative to this file."),
    concurrency: z.number({ error: "expected a whole number of builds" }).int().min(1).max(64).default(2),
    warmBuilders: z.boolean({ error: "expected true or false" }).default(true)
      .describe("Start builders ahead of time (for the next queued builds and the next trigger of a recently built target), so a build does not wait for a container to boot."),
    maxAttempts: z.number().int().min(1).max(10).default(3).describe("How often a build interrupted by a crash is tried."),
    shutdownGrace: duration.default("30s"),
    limits: limits.default({ memory: "2g", cpus: 2, pids: 1024 }),
    untrusted: z.enum(["refuse", "allow"], { error: "expected refuse or allow" }).default("refuse")
      .describe("With executor local, builds of pull requests from forks run only with allow (they would run as host processes); the docker executor always isolates them."),
    logLimit: z.string().regex(/^\d+(\.\d+)?[kmg]?b?$/i, { error: "expected a size like 50m" }).default("50m")
      .describe("Largest build log kept; past it the log keeps its head and tail with a marker between."),
    keep: serverKeep.default(KEEP_DEFAULTS),
    metrics: z
      .strictObject({
        token: z.string().min(1, { error: "expected a non-empty token" }).optional()
          .describe("Bearer token GET /metrics requires (unset: /metrics is open); ${VAR} reads the environment."),
      })
      .default({})
      .describe("GET /metrics (Prometheus)."),
    badges: z.boolean({ error: "expected true or false" }).default(true)
      .describe("Serve GET /badge/:target.svg (no sign-in); false answers 404."),
    targets: z.array(targetSchema, { error: "expected a list of targets" }).default([]),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.targets.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: "custom", path: ["targets", i, "name"], message: `expected a unique name; "${t.name}" is used twice` });
      seen.add(t.name);
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type RawConfig = z.output<typeof configSchema>;
export type RawTarget = z.output<typeof targetSchema>;
