import path from "node:path";
import type { Target } from "../config/load-config.js";
import { readCaCertificates } from "../config/ca-certificates.js";
import { readTargetSecrets } from "../config/check-secrets.js";
import { isInside } from "../shared/safe-path.js";
import { errors } from "../shared/errors.js";
import type { BuildRequest } from "../shared/protocol.js";
import type { Mount } from "../executor/types.js";
import type { Build, CloneTokenProvider } from "./types.js";

export interface PreparedRequest {
  request: BuildRequest;
  /** Values the manager masks in the captured output (token, secret values). */
  secrets: string[];
  /** Notes for the build log (never containing a secret). */
  notes: string[];
}

/**
 * Turns a stored build and its target into the builder's run-build request. Secrets are read
 * now (a changed secrets file applies to the next build without a restart). An untrusted build
 * (fork pull request) gets neither the secrets nor the token.
 */
export async function prepareRequest(
  build: Build,
  target: Target,
  cloneToken?: CloneTokenProvider,
): Promise<PreparedRequest> {
  const notes: string[] = [];
  let env: Record<string, string> = {};
  let token: string | undefined;
  if (build.untrusted) {
    notes.push("untrusted build (pull request from a fork): the target's secrets and token are withheld");
  } else {
    if (target.secrets) env = await readTargetSecrets(target);
    token = target.token ?? (cloneToken ? await cloneToken(build) : undefined);
  }
  const caCertificates = await readCaCertificates(target);
  const request: BuildRequest = {
    key: build.key,
    target: build.target,
    url: target.url,
    ...(build.ref ? { ref: build.ref } : {}),
    ...(build.sha ? { sha: build.sha } : {}),
    commands: target.commands,
    artifacts: target.artifacts,
    ...(token ? { token } : {}),
    ...(Object.keys(env).length ? { env } : {}),
    // Plain settings and public certificates: forks get them too.
    ...(Object.keys(target.env).length ? { vars: target.env } : {}),
    ...(caCertificates ? { caCertificates } : {}),
    meta: { trigger: build.trigger, ...(build.pullRequest ? { pullRequest: build.pullRequest } : {}) },
  };
  return {
    request,
    secrets: [token, ...Object.values(env)].filter((s): s is string => !!s),
    notes,
  };
}

/** Local sources are mounted read-only at the same path, so the URL means the same inside. */
export function sourceMounts(url: string, servicefsRoot: string): Mount[] {
  const local = /^files?:\/\/(\/.*)$/.exec(url);
  if (local) return [{ host: local[1]!, container: local[1]!, readOnly: true }];
  const sfs = /^servicefs:\/\/\/?(.*)$/.exec(url);
  if (sfs) {
    const p = path.resolve(servicefsRoot, sfs[1]!);
    if (!isInside(servicefsRoot, p)) throw errors.unsafePath("servicefs source", url, "it points outside the service file system");
    return [{ host: p, container: p, readOnly: true }];
  }
  return [];
}
