import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { errorMessage } from "../../shared/errors.js";
import { killProcessTree, listProcesses, processInfo } from "../../shared/exit-with-parent.js";
import type { Logger } from "../../shared/logger.js";
import type { Role } from "../types.js";

/** One host process the local executor started, as written to the registry. */
export interface WorkloadRecord {
  id: string;
  role: Role;
  target: string;
  buildKey?: string;
  /** The manager that started it (executor `instance`: a hash of its database path). */
  instance: string;
  pid: number;
  /** Its process group (the local executor makes every workload a group leader). */
  pgid: number;
  /** Start time from /proc/<pid>/stat (clock ticks since boot): tells it from a reused pid. */
  start: number;
  startedAt: string;
}

const recordFile = /^(.+)\.json$/;

/**
 * The local executor's record of the processes it started: one small JSON file per workload in
 * a folder of the data dir, written (synchronously, replaced atomically) as soon as the
 * process exists and removed once it has ended. Containers carry labels that outlive a
 * `kill -9` of the manager; host processes carry nothing, so this folder is what lets the next
 * manager end what the previous one left running (`sweep`).
 */
export class WorkloadRegistry {
  constructor(
    private readonly dir: string,
    private readonly instance: string,
    private readonly log: Logger,
  ) {
    // Owner only: it names processes and build keys of this server.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Records a workload that has just been spawned. Throws when the file cannot be written. */
  add(record: Omit<WorkloadRecord, "instance" | "startedAt">): void {
    const full: WorkloadRecord = { ...record, instance: this.instance, startedAt: new Date().toISOString() };
    const file = this.fileOf(record.id);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(full)}\n`, { mode: 0o600 });
    renameSync(temp, file);
  }

  remove(id: string): void {
    rmSync(this.fileOf(id), { force: true });
  }

  /**
   * Ends every workload of this instance left by a previous manager process: a recorded
   * process that is still the same process (same start time; a reused pid is never touched) is
   * SIGKILLed with everything it started and its process group. When the process is gone,
   * what is left of its group (started after it) is ended too. Records are removed; records of
   * another instance (another database in the same folder) are left alone. Returns the records
   * whose processes were still running.
   */
  sweep(): WorkloadRecord[] {
    const ended: WorkloadRecord[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (error) {
      this.log.warn("could not read the workload registry", { dir: this.dir, error: errorMessage(error) });
      return ended;
    }
    for (const name of names) {
      const file = path.join(this.dir, name);
      // A write the previous process did not finish: its workload is recorded nowhere else,
      // but it had not been told to do anything either (the record comes first).
      if (name.endsWith(".tmp")) {
        rmSync(file, { force: true });
        continue;
      }
      if (!recordFile.test(name)) continue;
      const record = readRecord(file);
      if (!record) {
        this.log.warn("unreadable workload record removed", { file: name });
        rmSync(file, { force: true });
        continue;
      }
      if (record.instance !== this.instance) continue;
      if (endRecorded(record)) ended.push(record);
      rmSync(file, { force: true });
    }
    if (ended.length) {
      this.log.warn("ended workloads a previous manager process left running", {
        workloads: ended.map((r) => ({ id: r.id, role: r.role, target: r.target, build: r.buildKey, pid: r.pid })),
      });
    }
    return ended;
  }

  private fileOf(id: string): string {
    // Ids are the manager's random hex; anything else is encoded so it stays one file name.
    return path.join(this.dir, `${/^[A-Za-z0-9_-]+$/.test(id) ? id : encodeURIComponent(id).replace(/\./g, "%2E")}.json`);
  }
}

function readRecord(file: string): WorkloadRecord | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<WorkloadRecord>;
    const whole = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 1;
    if (typeof value.id !== "string" || typeof value.instance !== "string" || !whole(value.pid) || !whole(value.pgid)) return undefined;
    if (!Number.isInteger(value.start)) return undefined;
    return value as WorkloadRecord;
  } catch {
    return undefined;
  }
}

/** True when the recorded process was still running (and has now been ended). */
function endRecorded(record: WorkloadRecord): boolean {
  const now = processInfo(record.pid);
  if (now && now.start === record.start) {
    killProcessTree(record.pid);
    return true;
  }
  if (now) return false; // The pid is someone else's now; so is any group with its id.
  // Gone (e.g. it crashed): members of its group may still run. A group id cannot be handed
  // out again while the group has members, and members of ours started after its leader.
  for (const pid of groupMembers(record.pgid, record.start)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return false;
}

function groupMembers(pgid: number, notBefore: number): number[] {
  return listProcesses().flatMap((p) => (p.pgid === pgid && p.start >= notBefore ? [p.pid] : []));
}
