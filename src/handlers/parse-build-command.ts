/** A `/build` command: every target of the repository, or the named ones. */
export interface BuildCommand {
  all: boolean;
  names: string[];
}

const line = /^[ \t]*\/build((?:[ \t]+\S+)*)[ \t]*$/;

/**
 * Finds `/build` and `/build <target> …` on lines of their own, outside fenced code blocks
 * (quoted lines start with `>` and never match). Several lines add up; a bare `/build` anywhere
 * means all targets. Undefined when the comment holds no command.
 */
export function parseBuildCommand(body: string | null | undefined): BuildCommand | undefined {
  if (!body) return undefined;
  let inFence = false;
  let found = false;
  let all = false;
  const names = new Set<string>();
  for (const text of body.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(text)) inFence = !inFence;
    if (inFence) continue;
    const m = line.exec(text);
    if (!m) continue;
    found = true;
    const listed = m[1]!.trim().split(/\s+/).filter(Boolean);
    if (!listed.length) all = true;
    for (const name of listed) names.add(name);
  }
  return found ? { all, names: all ? [] : [...names] } : undefined;
}
