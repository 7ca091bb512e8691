import { readdirSync, readFileSync } from "node:fs";

/**
 * Process trees on the host, for workloads that run without a container (the `local`
 * executor). A container ends everything in it when it stops; a host process does not: its
 * children are re-parented to init when it dies, and build commands run in process groups
 * (and sessions) of their own. So "end the workload" means: end the process, every process it
 * started, and their process groups. On Linux the tree is read from /proc; elsewhere only the
 * process group is reached.
 */

/** What /proc/<pid>/stat says of a process; `start` is its start time in clock ticks since boot. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  start: number;
}

/**
 * Reads one process's stat line, or undefined when it is gone (or not Linux). The command name
 * (field 2) may hold spaces and parentheses, so fields are counted from the last ")".
 */
export function processInfo(pid: number): ProcessInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): a zombie has ended, only its exit status is left to reap.
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), start: Number(fields[19]) };
}

/** The start time of a live process (see ProcessInfo), to tell it from a later one with the same pid. */
export function processStartTime(pid: number): number | undefined {
  return processInfo(pid)?.start;
}

/** Every live process this one can see (none when there is no /proc). */
export function listProcesses(): ProcessInfo[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    const info = processInfo(Number(name));
    return info ? [info] : [];
  });
}

/** Every process `root` started, and what those started, by parent links (not `root` itself). */
export function descendantsOf(root: number, processes: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found: ProcessInfo[] = [];
  const todo = [root];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      todo.push(child.pid);
    }
  }
  return found;
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone. EPERM: not ours to end (another user's process): left alone.
  }
}

export interface KillTreeOptions {
  /** Also end `root` itself and its process group (default true). */
  includeRoot?: boolean;
}

/**
 * SIGKILLs `root`, every process it started and their process groups. Descendants are first
 * stopped (SIGSTOP), and the tree is read again until no new process appears, so none can fork
 * away while the tree is being ended. Synchronous: it also runs where the event loop will not
 * turn again (a watchdog ending its own process). The caller's own process group is never
 * signalled. Returns the groups it signalled.
 */
export function killProcessTree(root: number, options: KillTreeOptions = {}): number[] {
  const includeRoot = options.includeRoot ?? true;
  const stopped = new Map<number, ProcessInfo>();
  // A few rounds are enough: each round stops what forked in the previous one.
  for (let round = 0; round < 20; round++) {
    const fresh = descendantsOf(root, listProcesses()).filter((p) => !stopped.has(p.pid));
    if (!fresh.length) break;
    for (const p of fresh) {
      send(p.pid, "SIGSTOP");
      stopped.set(p.pid, p);
    }
  }
  const groups = new Set<number>([...stopped.values()].map((p) => p.pgid));
  if (includeRoot) groups.add(processInfo(root)?.pgid ?? root);
  else groups.delete(processInfo(root)?.pgid ?? root);
  groups.delete(processInfo(process.pid)?.pgid ?? -1);
  // Groups first: they also reach members that already left the tree (re-parented to init).
  for (const group of groups) if (group > 1) send(-group, "SIGKILL");
  for (const pid of stopped.keys()) send(pid, "SIGKILL");
  if (includeRoot) send(root, "SIGKILL");
  return [...groups];
}

export interface ExitWithParentOptions {
  /** How often the parent is looked for (default 1 s). */
  intervalMs?: number;
  /** What ends this process (default: its whole tree, see killProcessTree). Tests replace it. */
  end?: () => void;
}

/**
 * A watchdog for a workload the local executor started: when the manager (`parentPid`) dies,
 * this process ends, with every process it started. Without it a builder outlives a
 * `kill -9` of its manager (warm builders idled for minutes) and its build's commands run on
 * beside the build's retry. The parent counts as gone when this process is re-parented (its
 * ppid changes), when `parentPid` no longer exists, or when writing to stdout or stderr fails
 * with EPIPE (the manager read them; a builder would otherwise crash there and leave its
 * commands orphaned). The timer is unref'd: it never keeps the process alive. Returns a
 * function that turns the watchdog off.
 */
export function exitWithParent(parentPid: number, options: ExitWithParentOptions = {}): () => void {
  if (!Number.isInteger(parentPid) || parentPid <= 1) return () => undefined;
  // Started by something in between (a wrapper script): the ppid says nothing then, and only
  // the parent's own existence is watched.
  const watchPpid = process.ppid === parentPid;
  const end = options.end ?? endThisProcessTree;
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    off();
    end();
  };
  const timer = setInterval(() => {
    if ((watchPpid && process.ppid !== parentPid) || !exists(parentPid)) finish();
  }, options.intervalMs ?? 1_000);
  timer.unref();
  const onPipeError = (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") return finish();
    // Anything else is not ours to swallow: it fails the process as it would without us.
    throw error;
  };
  process.stdout.on("error", onPipeError);
  process.stderr.on("error", onPipeError);
  const off = () => {
    clearInterval(timer);
    process.stdout.off("error", onPipeError);
    process.stderr.off("error", onPipeError);
  };
  return off;
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Ends everything this process started, then this process: its process group when it leads
 * one (the local executor starts every workload as a group leader), else just itself.
 */
function endThisProcessTree(): void {
  killProcessTree(process.pid, { includeRoot: false });
  if (processInfo(process.pid)?.pgid === process.pid) send(-process.pid, "SIGKILL");
  process.kill(process.pid, "SIGKILL");
}
