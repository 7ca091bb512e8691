/**
 * A `/build` command: every target of the repository, or the named ones; optionally the exact
 * commit to build.
 */
export interface BuildCommand {
  all: boolean;
  names: string[];
  /** Commits named (7 to 40 hex digits), in lower case, in the order written; usually none or one. */
  shas: string[];
}

const line = /^[ \t]*\/build((?:[ \t]+\S+)*)[ \t]*$/;
/** A commit as people paste it: abbreviated (git's default is 7 digits) up to all 40. */
const commitWord = /^[0-9a-f]{7,40}$/i;

/**
 * Finds `/build`, `/build <target> …`, `/build <sha>` and `/build <target> … <sha>` on lines of
 * their own, outside fenced code blocks (quoted lines start with `>` and never match). A word of
 * 7 to 40 hex digits is a commit unless it is one of `targetNames` (so a target called
 * `cafe1234` keeps working; name such a commit by a longer prefix). Several lines add up; a line
 * that names no target (bare `/build`, or `/build <sha>`) means all targets. Undefined when the
 * comment holds no command.
 */
export function parseBuildCommand(body: string | null | undefined, targetNames: readonly string[] = []): BuildCommand | undefined {
  if (!body) return undefined;
  let inFence = false;
  let found = false;
  let all = false;
  const names = new Set<string>();
  const shas = new Set<string>();
  for (const text of body.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(text)) inFence = !inFence;
    if (inFence) continue;
    const m = line.exec(text);
    if (!m) continue;
    found = true;
    const words = m[1]!.trim().split(/\s+/).filter(Boolean);
    const isCommit = (w: string) => commitWord.test(w) && !targetNames.includes(w);
    const listed = words.filter((w) => !isCommit(w));
    for (const w of words) if (isCommit(w)) shas.add(w.toLowerCase());
    if (!listed.length) all = true;
    for (const name of listed) names.add(name);
  }
  return found ? { all, names: all ? [] : [...names], shas: [...shas] } : undefined;
}
