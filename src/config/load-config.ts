import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { LineCounter, parseDocument, type YAMLError } from "yaml";
import { errors } from "../shared/errors.js";
import { parseDuration } from "../shared/duration.js";
import { checkCaCertificates } from "./ca-certificates.js";
import { checkSecrets } from "./check-secrets.js";
import { describeIssues, type ConfigProblem } from "./describe-issues.js";
import { interpolate } from "./interpolate.js";
import { configSchema, type RawConfig, type RawTarget } from "./schema.js";

/** A target as the rest of cicd sees it: paths absolute, durations in milliseconds. */
export interface Target extends Omit<RawTarget, "timeout" | "run"> {
  timeoutMs: number;
  /**
   * How errors name the secrets file or folder: the config file, the field and the path as
   * written (`cicd.yml: targets[0].secrets: secrets/hello.env`), never the absolute path.
   */
  secretsLabel?: string;
  run?: Omit<NonNullable<RawTarget["run"]>, "probation"> & { probationMs?: number };
}

/** The validated configuration: paths absolute (relative ones resolved against the file's folder). */
export interface Config extends Omit<RawConfig, "targets" | "shutdownGrace"> {
  file: string;
  shutdownGraceMs: number;
  targets: Target[];
}

/**
 * Loads `cicd.yml`: `defaults < file < environment` (PORT overrides `port`). Every error names
 * the file, the field and what was expected; unknown keys are errors, with the nearest known
 * key. All problems of the file are reported at once (one CONFIG_INVALID, a line each), so a
 * new user fixes the file in one pass; YAML syntax errors give line and column.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const abs = path.resolve(file);
  const name = path.basename(abs);
  if (!existsSync(abs)) throw errors.configNotFound(abs);
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(abs, "utf8"), { prettyErrors: false, lineCounter: lines });
  if (doc.errors.length) throw errors.configProblems(name, doc.errors.map((e) => yamlProblem(e, lines)));
  return parseConfig(doc.toJS() ?? {}, { file: abs, env });
}

/** Validates an already-parsed document. Exposed for tests and for configs built in code. */
export function parseConfig(document: unknown, options: { file: string; env?: NodeJS.ProcessEnv }): Config {
  const env = options.env ?? process.env;
  const name = path.basename(options.file);
  const dir = path.dirname(path.resolve(options.file));
  const input = interpolate(document, env, name) as Record<string, unknown>;
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw errors.configInvalid(name, "", "expected a mapping of settings (port, servicefs, targets, …)");
  }
  if (env.PORT) input.port = Number(env.PORT);
  const parsed = configSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw errors.configProblems(name, describeIssues(parsed.error.issues, configSchema));
  const raw = parsed.data;
  const resolve = (p: string) => path.resolve(dir, p);
  const config: Config = {
    ...raw,
    file: path.resolve(options.file),
    servicefs: resolve(raw.servicefs),
    database: raw.database === ":memory:" ? raw.database : resolve(raw.database),
    shutdownGraceMs: parseDuration(raw.shutdownGrace, "shutdownGrace"),
    ...(raw.docker ? { docker: resolveDockerPaths(raw.docker, resolve) } : {}),
    targets: raw.targets.map(({ timeout, run, ...t }, i) => ({
      ...t,
      url: resolveFileUrl(t.url, dir),
      secrets: t.secrets === undefined ? undefined : resolve(t.secrets),
      caCertificates: t.caCertificates === undefined ? undefined : resolve(t.caCertificates),
      ...(t.secrets === undefined ? {} : { secretsLabel: `${name}: targets[${i}].secrets: ${path.normalize(t.secrets)}` }),
      timeoutMs: parseDuration(timeout, "timeout"),
      run: run && (({ probation, ...r }) => ({ ...r, probationMs: probation === undefined ? undefined : parseDuration(probation) }))(run),
    })),
  };
  checkSecrets(config.targets);
  checkCaCertificates(config.targets);
  return config;
}

/** The engine's certificate and ssh config files are relative to the config file's folder. */
function resolveDockerPaths(docker: NonNullable<RawConfig["docker"]>, resolve: (p: string) => string): NonNullable<RawConfig["docker"]> {
  const { tls, sshConfig } = docker;
  return {
    ...docker,
    ...(tls ? { tls: { ca: resolve(tls.ca), cert: resolve(tls.cert), key: resolve(tls.key) } } : {}),
    ...(sshConfig ? { sshConfig: resolve(sshConfig) } : {}),
  };
}

/** `file://./repo` and `files://repo` are relative to the config file's folder. */
function resolveFileUrl(url: string, dir: string): string {
  const m = /^(files?):\/\/(.*)$/.exec(url);
  if (!m || m[2]!.startsWith("/")) return url;
  return `${m[1]}://${path.resolve(dir, m[2]!)}`;
}

/** A YAML syntax error where an editor finds it: line and column (from 1), and the parser's first line of explanation. */
function yamlProblem(error: YAMLError, lines: LineCounter): ConfigProblem {
  const at = error.linePos?.[0] ?? lines.linePos(error.pos[0]);
  const where = at ? ` at line ${at.line}, column ${at.col}` : "";
  return { field: "", expected: `expected valid YAML${where}: ${error.message.split("\n")[0]}` };
}

/** The target named `name`, or undefined. */
export function findTarget(config: Config, name: string): Target | undefined {
  return config.targets.find((t) => t.name === name);
}
