import type Dockerode from "dockerode";
import { errorMessage, errors } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Executor, FoundWorkload, WorkloadHandle, WorkloadSpec } from "../types.js";
import { type DockerExecutorOptions, foundFromLabels, INSTANCE_LABEL, labelScope } from "../docker/docker-executor.js";
import { dockerMessage, dockerStatus } from "../docker/docker-errors.js";
import { checkEngine, connectEngine, swarmRole, type Engine, type EngineInfo } from "../docker/engine.js";
import { builtInImagePreparer, type ImagePreparer } from "../docker/image-preparer.js";
import { serviceSpec } from "./service-spec.js";
import { firstTask, SwarmWorkload } from "./swarm-workload.js";

/** The docker executor's options (the engine must be a swarm manager node's), and where builders call. */
export interface SwarmExecutorOptions extends DockerExecutorOptions {
  /**
   * The address builders on any node reach the manager at (`callbackHost` of cicd.yml). Unset,
   * the address of this machine on Docker's default bridge: right only when every task runs on
   * this machine (a single-node swarm).
   */
  callbackHost?: string;
}

/** What the executor learns of the swarm once. */
interface Learned {
  nodeId: string;
  gateway?: string;
  nodes: number;
  /** Jobs are removed with their service (engine 24, API 1.43, and later). */
  jobs: boolean;
}

/** Whether an API version "1.41" is at least `[major, minor]`. */
function atLeast(version: string, [major, minor]: [number, number]): boolean {
  const [a = 0, b = 0] = version.split(".").map(Number);
  return a > major || (a === major && b >= minor);
}

/** How long a task may wait for a node that can take it before start gives up. */
const UNSCHEDULABLE_MS = 60_000;
/** How long a task may take to start at all (an image pull on a slow node included). */
const START_TIMEOUT_MS = 10 * 60_000;

const TASK_STATES_RUNNING = new Set(["new", "pending", "assigned", "accepted", "ready", "preparing", "starting", "running"]);

/**
 * Runs workloads as Docker Swarm services through a manager node's engine. Builders are jobs,
 * runners single-replica services, both labelled as the docker executor labels its containers,
 * so a restarted manager finds them again. Their tasks may run on any node the target's
 * `placement` allows: they do not share the manager's disk (caches and git mirrors are volumes
 * per node; a good build's files are uploaded to the manager, as always), and the manager does
 * not connect to them (a builder fetches its build). A workload that mounts one of the manager's
 * folders (a runner, a `file://` source) is placed on the manager's own node.
 * Images: a local image works without a registry in a single-node swarm (nothing resolves a
 * digest); with more nodes, `image` must be a reference every node can pull.
 */
export class SwarmExecutor implements Executor {
  readonly name = "swarm";
  readonly isolated = true;
  readonly outlivesManager = true;
  readonly sharesDisk = false;
  readonly reachesWorkloads = false;
  readonly engine: Engine;
  private readonly images: ImagePreparer;
  private readonly log: Logger;
  private learned: Promise<Learned> | undefined;

  constructor(private readonly options: SwarmExecutorOptions) {
    this.engine = connectEngine(options.docker, options.dockerEnvironment);
    this.log = options.logger.child("swarm");
    this.images = builtInImagePreparer(this.engine.docker, options, this.log);
  }

  private get docker(): Dockerode {
    return this.engine.docker;
  }

  /** The callback host, else host.docker.internal, which each task maps to this machine's bridge address. */
  get managerHost(): string {
    return this.options.callbackHost ?? "host.docker.internal";
  }

  /**
   * The engine must answer and be a swarm manager. Learns this node's id (for workloads that
   * need its disk) and its default bridge's address (how a task on this node reaches it).
   */
  async check(): Promise<string> {
    const info = await checkEngine(this.engine);
    const swarm = swarmRole(info);
    if (swarm !== "manager") {
      throw errors.executorFailed(`The Docker engine at ${this.engine.display} is ${swarm === "worker" ? "a swarm worker" : "not part of a swarm"}; executor swarm needs a manager node (docker swarm init, or docker.host pointing at one).`);
    }
    const { nodes } = await this.learn(info);
    if (nodes > 1 && !this.options.callbackHost) {
      this.log.warn(`the swarm has ${nodes} nodes, but callbackHost is not set: builders on other nodes would call their own machine; set callbackHost to an address of this machine every node reaches`);
    }
    return `Docker ${info.ServerVersion ?? "(version unknown)"} swarm of ${nodes} node(s) at ${this.engine.display}`;
  }

  prepareImage(image: string, log: Logger): Promise<void> {
    return this.images.prepare(image, log);
  }

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    const here = await this.learn();
    const body = serviceSpec(spec, {
      labels: this.options.instance ? { [INSTANCE_LABEL]: this.options.instance } : {},
      managerNode: `node.id==${here.nodeId}`,
      hosts: this.options.callbackHost || !here.gateway ? [] : [`${here.gateway} host.docker.internal`],
      jobs: here.jobs,
    });
    const name = body.Name as string;
    try {
      await this.docker.createService(body as unknown as Dockerode.CreateServiceOptions);
    } catch (error) {
      throw errors.executorFailed(`Could not start the ${spec.role} service ${name}: ${dockerMessage(error)}`);
    }
    const handle = new SwarmWorkload(this.docker, spec.id, name, "");
    try {
      await this.started(name);
    } catch (error) {
      await handle.destroy().catch(() => undefined);
      throw errors.executorFailed(`Could not start the ${spec.role} service ${name}: ${errorMessage(error)}`);
    }
    this.log.debug("started", { service: name, image: spec.image });
    return handle;
  }

  /**
   * Waits until the service's task runs (or already ended: its handle reports how). Rejects
   * when Swarm rejected the task (no such image, a mount it cannot make) or no node can take it
   * (placement, resources) within a minute, with Swarm's reason: as with a container, a
   * workload that cannot start is an error of `start`, not an exit.
   */
  private async started(name: string): Promise<void> {
    const since = Date.now();
    for (;;) {
      const task = await firstTask(this.docker, name);
      const state = task?.Status?.State ?? "new";
      if (state === "running" || state === "complete" || state === "failed") return;
      if (state === "rejected" || state === "orphaned" || state === "shutdown" || state === "remove") {
        throw new Error(task?.Status?.Err ?? `the task was ${state}`);
      }
      const waited = Date.now() - since;
      if (state === "pending" && task?.Status?.Err && waited > UNSCHEDULABLE_MS) throw new Error(`no node can run it: ${task.Status.Err}`);
      if (waited > START_TIMEOUT_MS) throw new Error(`its task is still ${state} after ${START_TIMEOUT_MS / 60_000} minutes${task?.Status?.Err ? `: ${task.Status.Err}` : ""}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async find(): Promise<FoundWorkload[]> {
    const services = await this.list(labelScope(this.options.instance));
    const found = await Promise.all(services.map(async (s) => {
      const task = await firstTask(this.docker, s.Spec?.Name ?? s.ID).catch(() => undefined);
      return foundFromLabels(s.Spec?.Labels, TASK_STATES_RUNNING.has(task?.Status?.State ?? "new"));
    }));
    return found.flatMap((f) => f ?? []);
  }

  async attach(id: string): Promise<WorkloadHandle | undefined> {
    const [service] = await this.list(labelScope(this.options.instance, `cicd.id=${id}`));
    if (!service) return undefined;
    return new SwarmWorkload(this.docker, service.Spec?.Labels?.["cicd.id"] ?? id, service.Spec?.Name ?? service.ID, "");
  }

  /** Services keep running; a restarted manager re-attaches. */
  async close(): Promise<void> {}

  /** This node's id, its default bridge's address and the swarm's size, asked once (`known`: the engine's /info, when already asked). */
  private learn(known?: EngineInfo): Promise<Learned> {
    this.learned ??= (async () => {
      const info = known ?? ((await this.docker.info()) as EngineInfo);
      const { ApiVersion } = await this.docker.version();
      const bridge = (await this.docker.getNetwork("bridge").inspect().catch(() => undefined)) as { IPAM?: { Config?: Array<{ Gateway?: string }> } } | undefined;
      return {
        nodeId: info.Swarm?.NodeID ?? "",
        gateway: bridge?.IPAM?.Config?.find((c) => c.Gateway)?.Gateway,
        nodes: info.Swarm?.Nodes ?? 1,
        jobs: atLeast(ApiVersion, [1, 43]),
      };
    })();
    this.learned.catch(() => (this.learned = undefined));
    return this.learned;
  }

  private async list(labels: string[]): Promise<Array<{ ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } }>> {
    try {
      return (await this.docker.listServices({ filters: { label: labels } })) as Array<{ ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } }>;
    } catch (error) {
      if (dockerStatus(error) === 503) throw errors.executorFailed(`The Docker engine at ${this.engine.display} is not a swarm manager any more: ${dockerMessage(error)}`);
      throw errors.executorFailed(`Cannot list services on ${this.engine.display}: ${dockerMessage(error)}`);
    }
  }
}
