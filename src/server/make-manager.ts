import path from "node:path";
import type { Config } from "../config/load-config.js";
import type { Executor } from "../executor/types.js";
import type { GitHubIntegration } from "../webhooks/mount-github.js";
import { BadBuildsWatcher } from "../manager/bad-builds-watcher.js";
import type { PoolDeps } from "../manager/builder-pool.js";
import { Manager, type ManagerOptions } from "../manager/manager.js";
import { Metrics } from "../metrics/metrics.js";
import { Notifier } from "../notify/notifier.js";
import { Retention } from "../manager/retention.js";
import { Runners } from "../manager/runners.js";
import type { Logger } from "../shared/logger.js";
import { BuildStore } from "../store/build-store.js";
import type { Db } from "../store/open-database.js";
import { RunnerStore } from "../store/runner-store.js";

/** What the manager learns only from later steps: the port it listens on, GitHub's clone tokens. */
export interface LateBindings {
  port: number;
  cloneToken?: GitHubIntegration["cloneToken"];
}

export interface ManagerParts {
  manager: Manager;
  runners: Runners;
  badBuilds: BadBuildsWatcher;
  /** Retention (`keep`) and the disk report, on a schedule that starts with the rest. */
  retention: Retention;
  /** Prometheus metrics (`GET /metrics`), fed by builds, runners, the builder pool and webhooks. */
  metrics: Metrics;
  /** Targets' `notify` hooks; close() drops retries still waiting. */
  notifier: Notifier;
  /** What GitHub reports runners' decisions through (mount-github's `deployments`). */
  deployments: { onMarkedBad: BadBuildsWatcher["onMarkedBad"]; deploy: Runners["deploy"] };
  /** Step 7: recover interrupted builds and runners, then start the queue and the watchers. */
  start(): Promise<void>;
}

export interface ManagerStepDeps {
  config: Config;
  db: Db;
  dataDir: string;
  executor: Executor;
  logger: Logger;
  late: LateBindings;
  /** Why new builds cannot be taken now (the database was lost), or undefined. */
  unavailable: () => string | undefined;
}

/**
 * Step 3, make the manager (the build service over the store) and the runners, and wire them:
 * a succeeded build is deployed to its target's runner; a build a runner marks bad is watched.
 * Nothing starts yet: recovery waits until the server listens (builders' callbacks need it).
 */
export function makeManagerAndRunners({ config, db, dataDir, executor, logger, late, unavailable }: ManagerStepDeps): ManagerParts {
  // Set once the manager exists (the gauges read its queue); nothing scrapes before that.
  let stats: () => { queued: number; running: number } = () => ({ queued: 0, running: 0 });
  const metrics = new Metrics(() => stats());
  // The manager hands its options on to its builder pool, which tells each warm hit or miss.
  const managerOptions: ManagerOptions & Pick<PoolDeps, "onAcquire"> = {
    config,
    store: new BuildStore(db),
    db,
    dataDir,
    executor,
    logger: logger.child("manager"),
    callbackUrl: () => `http://${config.callbackHost ?? executor.managerHost}:${late.port}/internal/builders/events`,
    cloneToken: (build) => late.cloneToken?.(build) ?? Promise.resolve(undefined),
    available: unavailable,
    onAcquire: (target, warm) => metrics.builderAcquired(target, warm),
  };
  const manager = new Manager(managerOptions);
  stats = () => manager.stats;
  manager.onChange((event) => metrics.observe(event));
  const runnerStore = new RunnerStore(db);
  const runners = new Runners({ config, store: runnerStore, executor, servicefs: manager.servicefs, logger: logger.child("runners"), stateDir: path.join(dataDir, "runners") });
  manager.onChange(({ build }) => {
    if (build.status === "succeeded") void runners.deployed(build.target);
  });
  const badBuilds = new BadBuildsWatcher({ service: manager, servicefs: manager.servicefs, targets: config.targets.map((t) => t.name), logger: logger.child("bad-builds") });
  badBuilds.onMarkedBad(({ build }) => metrics.runnerFallback(build.target));
  const notifier = new Notifier({ config, service: manager, markedBad: badBuilds, logger: logger.child("notify") });
  const retention = new Retention({ config, db, servicefs: manager.servicefs, buildArtifacts: manager.buildArtifacts, runners: runnerStore, logger: logger.child("retention") });
  return {
    manager,
    runners,
    badBuilds,
    retention,
    metrics,
    notifier,
    deployments: { onMarkedBad: badBuilds.onMarkedBad.bind(badBuilds), deploy: runners.deploy.bind(runners) },
    start: async () => {
      // First: a build that recovery ends is notified like any other.
      notifier.start();
      await manager.start();
      await runners.start();
      await badBuilds.start();
      // After recovery: the first run finishes clean-ups a crash interrupted, then keeps to `keep`.
      retention.start();
    },
  };
}
