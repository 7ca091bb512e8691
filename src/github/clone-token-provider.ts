import { findTarget, type Config } from "../config/load-config.js";
import type { Build, CloneTokenProvider } from "../manager/types.js";
import { errorMessage, errors } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { GitHubClient } from "./create-app-probot.js";
import type { GitHubSettings } from "./github-settings.js";

export interface CloneTokenDeps {
  config: Config;
  settings: Pick<GitHubSettings, "gitHost" | "gitProtocol">;
  /** A client authenticated as the app itself (JWT): Probot's `auth()` without an installation. */
  appClient: () => Promise<GitHubClient>;
  logger: Logger;
}

/**
 * Clone tokens for builds of GitHub repositories: a fresh installation access token limited to
 * the one repository in the target's URL, with `contents: read` only. Given when the target's
 * URL is an http(s) URL on this GitHub's host and the target has no token of its own. The
 * installation is the build's (webhook builds) or, for builds triggered over REST, the one that
 * covers the repository. Tokens are never logged; a failure to get one throws
 * SOURCE_FETCH_FAILED so the build ends with a clear reason.
 */
export function createCloneTokenProvider(deps: CloneTokenDeps): CloneTokenProvider {
  return async (build: Build) => {
    const target = findTarget(deps.config, build.target);
    if (!target || target.token || build.untrusted) return undefined;
    const repo = repositoryOf(target.url, deps.settings);
    if (!repo) return undefined;
    try {
      const octokit = await deps.appClient();
      const installationId = build.installationId ?? (await findInstallation(octokit, repo.owner, repo.name));
      if (!installationId) return undefined;
      const { data } = await octokit.rest.apps.createInstallationAccessToken({
        installation_id: installationId,
        repositories: [repo.name],
        permissions: { contents: "read" },
      });
      deps.logger.debug("Created a clone token", { build: build.key, repository: `${repo.owner}/${repo.name}`, expiresAt: data.expires_at });
      return data.token;
    } catch (error) {
      throw errors.sourceFetchFailed(target.url, `could not get a GitHub installation token for it: ${errorMessage(error)}`);
    }
  };
}

/** owner/name of an http(s) URL on the GitHub host (`https://github.com/acme/hello.git`). */
export function repositoryOf(url: string, settings: Pick<GitHubSettings, "gitHost" | "gitProtocol">): { owner: string; name: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const protocols = settings.gitProtocol === "http" ? ["http:", "https:"] : ["https:"];
  if (!protocols.includes(parsed.protocol) || parsed.host.toLowerCase() !== settings.gitHost.toLowerCase()) return undefined;
  const m = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(parsed.pathname);
  return m ? { owner: decodeURIComponent(m[1]!), name: decodeURIComponent(m[2]!) } : undefined;
}

async function findInstallation(octokit: GitHubClient, owner: string, repo: string): Promise<number | undefined> {
  try {
    const { data } = await octokit.rest.apps.getRepoInstallation({ owner, repo });
    return data.id;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}
