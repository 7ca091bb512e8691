import { errors } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { packageRoot } from "../project-root.js";
import type { Executor, FoundWorkload, Role, WorkloadHandle, WorkloadSpec } from "../types.js";
import { containerConfig, MANAGED_LABEL } from "./container-config.js";
import { dockerMessage, ignoring } from "./docker-errors.js";
import { DockerWorkload } from "./docker-workload.js";
import { EngineClient } from "./engine-client.js";
import type { ContainerSummary } from "./engine-types.js";
import { type BuiltInImages, ImagePreparer } from "./image-preparer.js";

const INSTANCE_LABEL = "cicd.instance";

export interface DockerExecutorOptions {
  logger: Logger;
  /** Folder holding docker/*.Dockerfile and docker/build/cicd.mjs (default: the cicd package). */
  projectRoot?: string;
  /** Tags cicd builds from docker/ itself (default cicd-builder, cicd-runner). */
  images?: Partial<BuiltInImages>;
  /** A Docker Engine API client (default: DOCKER_HOST or the local socket). */
  engine?: EngineClient;
  /**
   * Names this manager (label `cicd.instance`): `find` and `attach` then see only its own
   * containers, so two managers on one engine never sweep each other's builds.
   */
  instance?: string;
}

/**
 * Runs workloads as Docker containers on the local engine. Containers carry the labels
 * cicd.managed, cicd.role, cicd.target, cicd.id and cicd.build, so `find` sees them again
 * after a manager restart.
 */
export class DockerExecutor implements Executor {
  readonly kind = "docker";
  readonly isolated = true;
  readonly outlivesManager = true;
  /** Resolves to the bridge gateway through ExtraHosts host-gateway (Docker 20.10+). */
  readonly managerHost = "host.docker.internal";
  private readonly engine: EngineClient;
  private readonly images: ImagePreparer;
  private readonly instance: string | undefined;
  private readonly log: Logger;

  constructor(options: DockerExecutorOptions) {
    this.instance = options.instance;
    this.engine = options.engine ?? new EngineClient();
    this.log = options.logger.child("docker");
    this.images = new ImagePreparer(this.engine, options.projectRoot ?? packageRoot(), {
      builder: options.images?.builder ?? "cicd-builder",
      runner: options.images?.runner ?? "cicd-runner",
    }, this.log);
  }

  prepareImage(image: string, log: Logger): Promise<void> {
    return this.images.prepare(image, log);
  }

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    const config = containerConfig(spec);
    if (this.instance) config.Labels = { ...config.Labels, [INSTANCE_LABEL]: this.instance };
    const failed = (error: unknown) =>
      errors.executorFailed(`Could not start the ${spec.role} container ${config.name}: ${dockerMessage(error)}`);
    let id: string;
    try {
      ({ Id: id } = await this.engine.createContainer(config));
    } catch (error) {
      // Nothing was created (a name conflict means someone else's container: leave it be).
      throw failed(error);
    }
    try {
      await this.engine.startContainer(id);
      const info = await this.engine.inspectContainer(id);
      const address = addressOf(info.NetworkSettings.Networks);
      this.log.debug("started", { container: config.name, image: spec.image, address });
      return new DockerWorkload(this.engine, spec.id, id, address, Boolean(info.Config.Tty));
    } catch (error) {
      await ignoring([404, 409], () => this.engine.removeContainer(id, { force: true, v: true })).catch((cleanup: unknown) =>
        this.log.warn("could not remove a container that failed to start", { container: config.name, error: dockerMessage(cleanup) }),
      );
      throw failed(error);
    }
  }

  async find(): Promise<FoundWorkload[]> {
    const list = await this.list(this.scope());
    return list.flatMap((c) => {
      const labels = c.Labels ?? {};
      const role = labels["cicd.role"];
      const id = labels["cicd.id"];
      if ((role !== "builder" && role !== "runner") || !id) return [];
      const found: FoundWorkload = { id, role: role as Role, target: labels["cicd.target"] ?? "", running: c.State === "running" };
      if (labels["cicd.build"]) found.buildKey = labels["cicd.build"];
      return [found];
    });
  }

  /** A handle for a workload found by its cicd.id label; undefined if none. */
  async attach(id: string): Promise<WorkloadHandle | undefined> {
    const [summary] = await this.list(this.scope(`cicd.id=${id}`));
    if (!summary) return undefined;
    return new DockerWorkload(this.engine, summary.Labels?.["cicd.id"] ?? id, summary.Id, addressOf(summary.NetworkSettings?.Networks));
  }

  /** Nothing to release: containers keep running, and a restarted manager re-attaches. */
  async close(): Promise<void> {}

  /** Label filters for this manager's containers, plus `extra`. */
  private scope(...extra: string[]): string[] {
    return [`${MANAGED_LABEL}=true`, ...(this.instance ? [`${INSTANCE_LABEL}=${this.instance}`] : []), ...extra];
  }

  private async list(labels: string[]): Promise<ContainerSummary[]> {
    try {
      return await this.engine.listContainers({ all: true, labels });
    } catch (error) {
      throw errors.executorFailed(`Cannot list containers: ${dockerMessage(error)}`);
    }
  }
}

/** The container's address on its first network that has one; 127.0.0.1 when none does. */
function addressOf(networks: Record<string, { IPAddress?: string }> | null | undefined): string {
  return Object.values(networks ?? {}).find((n) => n.IPAddress)?.IPAddress || "127.0.0.1";
}
