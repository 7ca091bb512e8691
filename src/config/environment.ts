/**
 * Every environment variable the server process reads, in one list: its name, what it does, its
 * default, and how its text becomes a typed value. `readEnvironment` reads them all at once, at
 * start, and is the only place the server looks at `process.env` for its settings; the parts
 * below it get what was read here (github-settings.ts, for one, takes the GitHub variables as
 * its `env`). The README's "Environment" table is rendered from this list
 * (`renderEnvironmentTable`), and a test keeps it in step.
 *
 * Not listed here because they are not the server's settings: `${VAR}` references in cicd.yml
 * (read while the file is interpolated), the variables the local executor hands on to its
 * workloads (PATH, HOME, proxies, …: executor/local/local-executor.ts), and the builder's and
 * runner's own options (builder/options.ts, runner/main.ts), which run as programs of their own.
 */
import { errors } from "../shared/errors.js";
import { logFormats, logLevels, type LogFormat, type LogLevel } from "../shared/logger.js";
import { checkTokenLength } from "./check-secrets.js";

/** One variable: how the README describes it and how its value is read. */
export interface EnvironmentVariable<T> {
  /** What it does, one line of Markdown for the README. */
  meaning: string;
  /** The default as the README shows it; `undefined` when unset means "off" or "none". */
  default?: string;
  /** Its value must never be logged or echoed in an error (the logger masks it too). */
  secret?: boolean;
  /** The typed value of the text set (never called for an unset or empty variable). */
  parse(value: string, name: string): T;
  /** The value when the variable is unset or empty. */
  unset: T;
}

const source = "environment";
/** Makes a variable entry; `T` follows from `parse` and `unset`. */
const variable = <T>(entry: EnvironmentVariable<T>): EnvironmentVariable<T> => entry;
const text = (value: string) => value;

/** The list. Order is the README's order: start-up, server, logs, Docker, GitHub App, Node.js. */
export const environmentVariables = {
  CICD_CONFIG: variable({
    meaning: "the configuration file, when `cicd server` has no `--config`",
    default: "`cicd.yml`",
    parse: text,
    unset: "cicd.yml",
  }),
  PORT: variable<number | undefined>({
    meaning: "HTTP port; overrides `port` in cicd.yml",
    default: "`port` of cicd.yml",
    parse: (value, name) => {
      const port = Number(value);
      if (!/^\d+$/.test(value.trim()) || port > 65_535) throw errors.configInvalid(source, name, `expected a port number from 0 to 65535, got ${JSON.stringify(value)}`);
      return port;
    },
    unset: undefined,
  }),
  CICD_API_TOKEN: variable<string | undefined>({
    meaning: "bearer token of the REST API, at least 16 characters; when unset, one is generated and kept in `<data>/api-token` (mode 0600)",
    default: "generated",
    secret: true,
    parse: (value, name) => {
      checkTokenLength(source, name, value);
      return value;
    },
    unset: undefined,
  }),
  LOG_LEVEL: variable<LogLevel>({
    meaning: "least level logged: `debug`, `info`, `warn` or `error`",
    default: "`info`",
    parse: (value, name) => oneOf(name, value.trim().toLowerCase(), logLevels),
    unset: "info",
  }),
  LOG_FORMAT: variable<LogFormat>({
    meaning: "`text` (one line per event for people) or `json` (one JSON object per line: `time`, `level`, `name`, `msg` and the event's fields, for log collectors)",
    default: "`text`",
    parse: (value, name) => oneOf(name, value.trim().toLowerCase(), logFormats),
    unset: "text",
  }),
  DOCKER_HOST: variable<string | undefined>({
    meaning: "the Docker engine of the `docker` and `swarm` executors when cicd.yml names none (`docker.host`): `unix:///path/to/docker.sock`, `tcp://host:port` or `ssh://user@host`, as the docker CLI reads it",
    default: "`unix:///var/run/docker.sock`",
    parse: text,
    unset: undefined,
  }),
  DOCKER_TLS_VERIFY: variable<string | undefined>({
    meaning: "set (and not `0`), a `tcp://` engine is spoken to over TLS with the client certificate in `DOCKER_CERT_PATH`, as the docker CLI does",
    parse: text,
    unset: undefined,
  }),
  DOCKER_CERT_PATH: variable<string | undefined>({
    meaning: "folder of `ca.pem`, `cert.pem` and `key.pem` for `DOCKER_TLS_VERIFY`",
    default: "`~/.docker`",
    parse: text,
    unset: undefined,
  }),
  APP_ID: variable<string | undefined>({
    meaning: "numeric ID of the GitHub App; unset, the server runs without GitHub (REST triggers only)",
    parse: text,
    unset: undefined,
  }),
  PRIVATE_KEY: variable<string | undefined>({
    meaning: "the GitHub App's private key (PEM, PEM with `\\n` escapes, or base64 of a PEM)",
    secret: true,
    parse: text,
    unset: undefined,
  }),
  PRIVATE_KEY_PATH: variable<string | undefined>({
    meaning: "file holding the GitHub App's private key, when `PRIVATE_KEY` is unset",
    parse: text,
    unset: undefined,
  }),
  WEBHOOK_SECRET: variable<string | undefined>({
    meaning: "the GitHub App's webhook secret, at least 16 characters; required with `APP_ID`",
    secret: true,
    parse: text,
    unset: undefined,
  }),
  GHE_HOST: variable<string | undefined>({
    meaning: "host of a GitHub Enterprise Server (its API is then `<protocol>://<host>/api/v3`)",
    default: "`github.com`",
    parse: text,
    unset: undefined,
  }),
  GHE_PROTOCOL: variable<string | undefined>({
    meaning: "`https` or `http`, for `GHE_HOST`",
    default: "`https`",
    parse: text,
    unset: undefined,
  }),
  GITHUB_CLIENT_ID: variable<string | undefined>({
    meaning: "the GitHub App's OAuth client ID (written by `/setup`): with `GITHUB_CLIENT_SECRET` and `APP_ID`, the dashboard offers \"Sign in with GitHub\"",
    parse: text,
    unset: undefined,
  }),
  GITHUB_CLIENT_SECRET: variable<string | undefined>({
    meaning: "the GitHub App's OAuth client secret (written by `/setup`), for \"Sign in with GitHub\"",
    secret: true,
    parse: text,
    unset: undefined,
  }),
  WEBHOOK_PROXY_URL: variable<string | undefined>({
    meaning: "a smee.io channel (or another Smee server) whose deliveries are forwarded to this server's webhook endpoint: GitHub webhooks on a machine GitHub cannot reach, for development",
    parse: text,
    unset: undefined,
  }),
  NODE_OPTIONS: variable<string | undefined>({
    meaning: "Node.js's own options; a `--semi-space-growth-factor` set there is left alone by the server's start-up (server/startup-heap.ts)",
    parse: text,
    unset: undefined,
  }),
} satisfies Record<string, EnvironmentVariable<unknown>>;

export type EnvironmentName = keyof typeof environmentVariables;

/** The server's environment, read and checked: one typed value per variable, keyed by its name. */
export type Environment = { readonly [N in EnvironmentName]: (typeof environmentVariables)[N]["unset"] | ReturnType<(typeof environmentVariables)[N]["parse"]> };

/**
 * Variables as text. Not NodeJS.ProcessEnv: Probot's types narrow LOG_LEVEL and LOG_FORMAT there
 * to its own values, and a wrong value is exactly what readEnvironment must be able to refuse.
 */
export type EnvironmentText = Readonly<Record<string, string | undefined>>;

/** The GitHub App's variables, for readGitHubSettings and mountGitHub (which take an `env`). */
export const gitHubVariables = ["APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "GHE_HOST", "GHE_PROTOCOL"] as const;

/**
 * Reads and checks every variable of the list. Throws CONFIG_INVALID naming the variable
 * (`environment: PORT: expected …`) at the first wrong one; the value of a secret variable never
 * appears in the message. An empty variable counts as unset, as it always has for these.
 */
export function readEnvironment(env: EnvironmentText = process.env): Environment {
  const read: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(environmentVariables) as [EnvironmentName, EnvironmentVariable<unknown>][]) {
    const value = env[name];
    read[name] = value === undefined || value === "" ? entry.unset : entry.parse(value, name);
  }
  return read as Environment;
}

/** The GitHub App's variables as an `env` for the functions that take one (github-settings.ts). */
export function gitHubEnv(environment: Environment): NodeJS.ProcessEnv {
  return Object.fromEntries(gitHubVariables.flatMap((name) => (environment[name] === undefined ? [] : [[name, environment[name]]])));
}

/** Values the logs must never show: those of the secret variables that are set. */
export function environmentSecrets(environment: Environment): string[] {
  return (Object.keys(environmentVariables) as EnvironmentName[]).flatMap((name) => {
    const value = environment[name];
    return (environmentVariables[name] as EnvironmentVariable<unknown>).secret && typeof value === "string" ? [value] : [];
  });
}

/** The README's table of the variables (between its `environment` markers), from the list. */
export function renderEnvironmentTable(): string {
  const rows = Object.entries(environmentVariables).map(
    ([name, entry]: [string, EnvironmentVariable<unknown>]) => `| \`${name}\` | ${entry.default ?? "—"} | ${entry.meaning} |`,
  );
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw errors.configInvalid(source, name, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
}
