import type { Db } from "./open-database.js";

export type RunnerRecordState = "running" | "exited" | "stopped";

export interface RunnerRecord {
  id: string;
  target: string;
  state: RunnerRecordState;
  createdAt: string;
  stoppedAt: string | null;
  /** Exit code of the runner workload once it ended. */
  exitCode: number | null;
  stateFile: string;
}

interface Row {
  id: string;
  target: string;
  state: RunnerRecordState;
  created_at: string;
  stopped_at: string | null;
  spec: string;
}

/** Runners started through the API, so they are found again after a manager restart. */
export class RunnerStore {
  constructor(private readonly db: Db) {}

  insert(record: RunnerRecord): void {
    this.db
      .prepare("INSERT INTO runners (id, target, state, created_at, stopped_at, spec) VALUES (?, ?, ?, ?, ?, ?)")
      .run(record.id, record.target, record.state, record.createdAt, record.stoppedAt, JSON.stringify({ exitCode: record.exitCode, stateFile: record.stateFile }));
  }

  get(id: string): RunnerRecord | undefined {
    const row = this.db.prepare<[string], Row>("SELECT * FROM runners WHERE id = ?").get(id);
    return row && toRecord(row);
  }

  list(target?: string): RunnerRecord[] {
    const rows = target
      ? this.db.prepare<[string], Row>("SELECT * FROM runners WHERE target = ? ORDER BY created_at DESC").all(target)
      : this.db.prepare<[], Row>("SELECT * FROM runners ORDER BY created_at DESC").all();
    return rows.map(toRecord);
  }

  finish(id: string, state: "exited" | "stopped", exitCode: number | null): void {
    const current = this.get(id);
    if (!current || current.state !== "running") return;
    this.db
      .prepare("UPDATE runners SET state = ?, stopped_at = ?, spec = ? WHERE id = ?")
      .run(state, new Date().toISOString(), JSON.stringify({ exitCode, stateFile: current.stateFile }), id);
  }
}

function toRecord(row: Row): RunnerRecord {
  const spec = JSON.parse(row.spec) as { exitCode: number | null; stateFile: string };
  return { id: row.id, target: row.target, state: row.state, createdAt: row.created_at, stoppedAt: row.stopped_at, exitCode: spec.exitCode ?? null, stateFile: spec.stateFile };
}
