import type { Config, Target } from "../config/load-config.js";

/** Targets whose `repository` is `fullName` (GitHub names are case-insensitive). */
export function targetsOf(config: Config, fullName: string): Target[] {
  const name = fullName.toLowerCase();
  return config.targets.filter((t) => t.repository?.toLowerCase() === name);
}

/** The target of a check run named `cicd/<target>`, when this repository has that target. */
export function checkRunTarget(config: Config, fullName: string, checkRunName: string): string | undefined {
  const target = /^cicd\/(.+)$/.exec(checkRunName)?.[1];
  return target && targetsOf(config, fullName).some((t) => t.name === target) ? target : undefined;
}

/**
 * Targets a push to `ref` builds: branches listed in `branches` (globs: `release/*`, `**`), or
 * the default branch when the list is empty; tags only for targets with `tags: true`.
 */
export function pushTargets(config: Config, fullName: string, ref: string, defaultBranch: string): Target[] {
  const branch = /^refs\/heads\/(.+)$/.exec(ref)?.[1];
  const isTag = ref.startsWith("refs/tags/");
  return targetsOf(config, fullName).filter((t) => {
    if (isTag) return t.tags;
    if (!branch) return false;
    return t.branches.length ? t.branches.some((pattern) => globMatches(pattern, branch)) : branch === defaultBranch;
  });
}

/** `*` matches within one path segment, `**` across segments; everything else literally. */
export function globMatches(pattern: string, name: string): boolean {
  if (!pattern.includes("*")) return pattern === name;
  const source = pattern
    .split(/(\*\*|\*)/)
    .map((part) => (part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`).test(name);
}
