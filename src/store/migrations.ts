/**
 * Versioned schema migrations, applied in order inside one transaction each. The version lives
 * in `PRAGMA user_version`. Append new steps; never edit a released one.
 */
export const migrations: string[] = [
  // 1: builds, the durable queue, log locations, builder callback tokens.
  `
  CREATE TABLE builds (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    ref TEXT,
    sha TEXT,
    commit_sha TEXT,
    trigger TEXT NOT NULL,
    delivery_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    exit_code INTEGER,
    reason TEXT,
    artifacts TEXT NOT NULL DEFAULT '[]',
    sizes TEXT NOT NULL DEFAULT '{}',
    commands TEXT NOT NULL DEFAULT '[]',
    repository TEXT,
    installation_id INTEGER,
    pull_request INTEGER,
    untrusted INTEGER NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{}',
    log_path TEXT,
    builder_id TEXT,
    builder_token_hash TEXT
  );
  CREATE INDEX builds_by_target ON builds(target, seq);
  CREATE INDEX builds_by_status ON builds(status, seq);
  CREATE UNIQUE INDEX builds_by_delivery ON builds(target, delivery_id, IFNULL(sha, IFNULL(ref, '')))
    WHERE delivery_id IS NOT NULL;
  CREATE TABLE queue (
    key TEXT PRIMARY KEY REFERENCES builds(key) ON DELETE CASCADE,
    position REAL NOT NULL
  );
  CREATE INDEX queue_by_position ON queue(position);
  `,
  // 2: runners started through the API.
  `
  CREATE TABLE runners (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    stopped_at TEXT,
    spec TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX runners_by_target ON runners(target);
  `,
  // 3: the newest builds first (list, next seq) without scanning every build.
  `
  CREATE UNIQUE INDEX builds_by_seq ON builds(seq);
  `,
  // 4: trust and hardening. check_reported: the build status last confirmed at GitHub (the
  // check-run outbox: a build whose check_reported differs from its status is reported again
  // after a restart; existing builds count as reported). replay_key: a content key of the event
  // that queued the build (push: repository, ref, commit; pull request: number, head sha), so a
  // captured webhook re-sent under new delivery ids queues nothing within the replay window.
  // pull_heads: the head commits a pull request had and when GitHub says it got each, so
  // `/build` builds the commit the commenter saw.
  `
  ALTER TABLE builds ADD COLUMN check_reported TEXT;
  UPDATE builds SET check_reported = status;
  ALTER TABLE builds ADD COLUMN replay_key TEXT;
  CREATE INDEX builds_by_replay ON builds(replay_key, created_at) WHERE replay_key IS NOT NULL;
  CREATE TABLE pull_heads (
    repository TEXT NOT NULL,
    number INTEGER NOT NULL,
    sha TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (repository, number, sha)
  );
  `,
  // 5: the typed outcome of a finished build (shared/outcome.ts). Builds finished before it get
  // the outcome their status and reason imply.
  `
  ALTER TABLE builds ADD COLUMN outcome TEXT;
  UPDATE builds SET outcome = CASE
    WHEN status = 'succeeded' THEN 'succeeded'
    WHEN status = 'cancelled' THEN 'cancelled'
    WHEN status = 'failed' AND reason LIKE '%out of memory%' THEN 'out_of_memory'
    WHEN status = 'failed' AND reason LIKE 'Command % failed%' THEN 'command_failed'
    WHEN status = 'failed' THEN 'build_failed'
    WHEN status = 'error' AND reason LIKE 'timed out%' THEN 'timed_out'
    WHEN status = 'error' THEN 'executor_failed'
    ELSE NULL END;
  `,
  // 6: build numbers, and what supersede looks up on every trigger (the active builds of one
  // branch or pull request) without scanning the queue.
  // Build numbers. Each target numbers its builds 1, 2, 3 … in the order they were queued;
  // target_numbers keeps each target's last number, so a number is never used twice even when
  // the builds that had the highest ones are deleted. Existing builds are numbered by seq.
  `
  ALTER TABLE builds ADD COLUMN number INTEGER;
  UPDATE builds SET number = (SELECT COUNT(*) FROM builds b WHERE b.target = builds.target AND b.seq <= builds.seq);
  CREATE UNIQUE INDEX builds_by_target_number ON builds(target, number);
  CREATE TABLE target_numbers (target TEXT PRIMARY KEY, last INTEGER NOT NULL);
  INSERT INTO target_numbers (target, last) SELECT target, MAX(number) FROM builds GROUP BY target;
  CREATE INDEX builds_active_by_ref ON builds(target, ref) WHERE status IN ('queued', 'running');
  CREATE INDEX builds_active_by_pull ON builds(target, pull_request) WHERE status IN ('queued', 'running');
  `,
  // 7: dashboard sessions (a sign-in survives a restart). `id_hash` is the SHA-256 of the
  // cookie's value: a copy of the database holds no usable session. `csrf` guards the forms.
  `
  CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    who TEXT NOT NULL,
    kind TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX sessions_by_expiry ON sessions(expires_at);
  `,
  // 8: recovery after a restart reads the running builds only; the queue, however long, stays
  // in SQLite (manager.ts pulls its front).
  `
  CREATE INDEX builds_running ON builds(seq) WHERE status = 'running';
  `,
];
