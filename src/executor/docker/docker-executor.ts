import type Dockerode from "dockerode";
import { errors } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Executor, FoundWorkload, Role, WorkloadHandle, WorkloadSpec } from "../types.js";
import { containerConfig, MANAGED_LABEL } from "./container-config.js";
import { dockerMessage, ignoring } from "./docker-errors.js";
import { DockerWorkload } from "./docker-workload.js";
import { checkEngine, connectEngine, type Engine, type EngineEnvironment, type EngineSettings } from "./engine.js";
import { type BuiltInImages, builtInImagePreparer, type ImagePreparer } from "./image-preparer.js";

export const INSTANCE_LABEL = "cicd.instance";

export interface DockerExecutorOptions {
  logger: Logger;
  /** Folder holding docker/*.Dockerfile and docker/build/cicd.mjs (default: the cicd package). */
  projectRoot?: string;
  /** Tags cicd builds from docker/ itself (default cicd-builder, cicd-runner). */
  images?: Partial<BuiltInImages>;
  /** The engine (`docker:` of cicd.yml); unset, the one DOCKER_HOST names, else the local socket. */
  docker?: EngineSettings;
  /** DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH as read at start (config/environment.ts). */
  dockerEnvironment?: EngineEnvironment;
  /**
   * Names this manager (label `cicd.instance`): `find` and `attach` then see only its own
   * workloads, so two managers on one engine never sweep each other's builds.
   */
  instance?: string;
}

/** The label filters of one manager's workloads, plus `extra` ("key=value"). */
export function labelScope(instance: string | undefined, ...extra: string[]): string[] {
  return [`${MANAGED_LABEL}=true`, ...(instance ? [`${INSTANCE_LABEL}=${instance}`] : []), ...extra];
}

/** The workload a set of cicd labels describes, or undefined when they are not cicd's. */
export function foundFromLabels(labels: Record<string, string> | undefined, running: boolean): FoundWorkload | undefined {
  const role = labels?.["cicd.role"];
  const id = labels?.["cicd.id"];
  if ((role !== "builder" && role !== "runner") || !id) return undefined;
  const found: FoundWorkload = { id, role: role as Role, target: labels["cicd.target"] ?? "", running };
  if (labels["cicd.build"]) found.buildKey = labels["cicd.build"];
  return found;
}

/**
 * Runs workloads as Docker containers on one engine (local, or remote over TLS or ssh), through
 * dockerode. Containers carry the labels cicd.managed, cicd.role, cicd.target, cicd.id and
 * cicd.build, so `find` sees them again after a manager restart.
 */
export class DockerExecutor implements Executor {
  readonly name = "docker";
  readonly isolated = true;
  readonly outlivesManager = true;
  /**
   * Containers see the manager's folders only when the engine is on this machine (its socket):
   * a tcp:// or ssh:// engine gets volumes of its own for caches and git mirrors.
   */
  readonly sharesDisk: boolean;
  readonly reachesWorkloads = true;
  /** Resolves to the bridge gateway through ExtraHosts host-gateway (Docker 20.10+). */
  readonly managerHost = "host.docker.internal";
  readonly engine: Engine;
  private readonly images: ImagePreparer;
  private readonly instance: string | undefined;
  private readonly log: Logger;

  constructor(options: DockerExecutorOptions) {
    this.instance = options.instance;
    this.engine = connectEngine(options.docker, options.dockerEnvironment);
    this.sharesDisk = this.engine.display.startsWith("unix://");
    this.log = options.logger.child("docker");
    this.images = builtInImagePreparer(this.engine.docker, options, this.log);
  }

  get docker(): Dockerode {
    return this.engine.docker;
  }

  async check(): Promise<string> {
    const { ServerVersion } = await checkEngine(this.engine);
    return `Docker ${ServerVersion ?? "(version unknown)"} at ${this.engine.display}`;
  }

  prepareImage(image: string, log: Logger): Promise<void> {
    return this.images.prepare(image, log);
  }

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    const config = containerConfig(spec, { volumes: !this.sharesDisk });
    if (this.instance) config.Labels = { ...config.Labels, [INSTANCE_LABEL]: this.instance };
    const failed = (error: unknown) =>
      errors.executorFailed(`Could not start the ${spec.role} container ${config.name}: ${dockerMessage(error)}`);
    let container: Dockerode.Container;
    try {
      container = await this.docker.createContainer(config);
    } catch (error) {
      // Nothing was created (a name conflict means someone else's container: leave it be).
      throw failed(error);
    }
    try {
      await container.start();
      const info = await container.inspect();
      const address = addressOf(info.NetworkSettings.Networks);
      this.log.debug("started", { container: config.name, image: spec.image, address });
      return new DockerWorkload(this.docker, spec.id, container.id, address, Boolean(info.Config.Tty));
    } catch (error) {
      await ignoring([404, 409], () => container.remove({ force: true, v: true })).catch((cleanup: unknown) =>
        this.log.warn("could not remove a container that failed to start", { container: config.name, error: dockerMessage(cleanup) }),
      );
      throw failed(error);
    }
  }

  async find(): Promise<FoundWorkload[]> {
    const list = await this.list(labelScope(this.instance));
    return list.flatMap((c) => foundFromLabels(c.Labels, c.State === "running") ?? []);
  }

  /** A handle for a workload found by its cicd.id label; undefined if none. */
  async attach(id: string): Promise<WorkloadHandle | undefined> {
    const [summary] = await this.list(labelScope(this.instance, `cicd.id=${id}`));
    if (!summary) return undefined;
    return new DockerWorkload(this.docker, summary.Labels?.["cicd.id"] ?? id, summary.Id, addressOf(summary.NetworkSettings?.Networks));
  }

  /** Nothing to release: containers keep running, and a restarted manager re-attaches. */
  async close(): Promise<void> {}

  private async list(labels: string[]): Promise<Dockerode.ContainerInfo[]> {
    try {
      return await this.docker.listContainers({ all: true, filters: { label: labels } });
    } catch (error) {
      throw errors.executorFailed(`Cannot list containers on ${this.engine.display}: ${dockerMessage(error)}`);
    }
  }
}

/** The container's address on its first network that has one; 127.0.0.1 when none does. */
function addressOf(networks: Record<string, { IPAddress?: string }> | null | undefined): string {
  return Object.values(networks ?? {}).find((n) => n.IPAddress)?.IPAddress || "127.0.0.1";
}
