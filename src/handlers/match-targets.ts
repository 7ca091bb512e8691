import picomatch from "picomatch";
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
 * Targets a push to `ref` builds: branches matching a glob of `branches` (see globMatches), or
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

/**
 * The options tinyglobby gives picomatch when the builder collects `artifacts`
 * (builder/collect-artifacts.ts: `dot: true`, case-sensitive), so `branches` and `artifacts`
 * speak one glob dialect: `*` within a segment, `**` across segments, `{a,b}`, `[0-9]`, `?`.
 */
const GLOB_OPTIONS: picomatch.PicomatchOptions = { dot: true, posix: true };
const matchers = new Map<string, picomatch.Matcher>();

/** Whether branch `name` matches the glob `pattern`, in the dialect of `artifacts`. */
export function globMatches(pattern: string, name: string): boolean {
  let matcher = matchers.get(pattern);
  if (!matcher) {
    matcher = picomatch(pattern, GLOB_OPTIONS);
    // Patterns come from the configuration, so the cache stays as small as the config.
    matchers.set(pattern, matcher);
  }
  return matcher(name);
}
