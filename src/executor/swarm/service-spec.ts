import path from "node:path";
import { errors } from "../../shared/errors.js";
import { containerConfig, parseMemory } from "../docker/container-config.js";
import type { Mount, WorkloadSpec } from "../types.js";

/** Grace a service's task gets between SIGTERM and SIGKILL when its service is removed. */
export const STOP_GRACE_MS = 10_000;

/** What the executor adds to each service: its labels, where it may run, how it reaches the manager. */
export interface ServiceContext {
  /** Extra labels (the manager's instance). */
  labels: Record<string, string>;
  /** Constraint that puts a workload on the manager's node, for one that mounts the manager's folders. */
  managerNode: string;
  /** `/etc/hosts` lines of the task ("IP name"), e.g. the manager's address as host.docker.internal. */
  hosts: string[];
  /**
   * Builders may be jobs (`ReplicatedJob`): the engine removes a job's running task with its
   * service. Engines before 24 (API 1.43) do not (moby/moby#44312: the task runs on, orphaned),
   * so there a builder is a one-replica service that is never restarted, which runs once too.
   */
  jobs: boolean;
}

/**
 * The Swarm service of a workload. The same container settings as the docker executor's
 * (container-config.ts: labels, entry point, env, capabilities, init, limits), written as a
 * service: builders are jobs (`ReplicatedJob`, one completion, never restarted; see
 * `ServiceContext.jobs` for older engines), runners one replica that is not restarted either (the manager decides what happens when it exits). Limits
 * become task limits, and a quarter of the memory limit a reservation, so the scheduler spreads
 * builds over nodes with memory to spare without holding a whole node for each. Volumes named in `Mount.volume` are
 * per node; any other mount is a folder of the manager's disk, so that workload is placed on the
 * manager's node.
 */
export function serviceSpec(spec: WorkloadSpec, context: ServiceContext): Record<string, unknown> {
  const container = containerConfig(spec);
  const labels = { ...container.Labels, ...context.labels };
  const memory = spec.limits?.memory === undefined ? undefined : parseMemory(spec.limits.memory);
  const cpus = spec.limits?.cpus;
  const needsManagerDisk = spec.mounts.some((m) => !m.volume);
  const job = spec.role === "builder" && context.jobs;
  return {
    Name: container.name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Command: container.Entrypoint,
        Args: container.Cmd,
        Env: container.Env,
        Labels: labels,
        Mounts: spec.mounts.map(serviceMount),
        Init: true,
        TTY: false,
        Hosts: context.hosts,
        StopGracePeriod: STOP_GRACE_MS * 1e6,
        ...(spec.capabilities ? { CapabilityDrop: ["ALL"], CapabilityAdd: spec.capabilities.map((c) => `CAP_${c}`) } : {}),
        Privileges: { NoNewPrivileges: true },
      },
      Resources: {
        Limits: { MemoryBytes: memory, NanoCPUs: cpus === undefined ? undefined : Math.round(cpus * 1e9), Pids: spec.limits?.pids },
        // Memory only: CPU is shared fairly under load, memory is not. A CPU reservation per
        // builder, warm ones waiting included, left a 2-core node unable to place the fourth.
        Reservations: { MemoryBytes: memory === undefined ? undefined : Math.floor(memory / 4) },
      },
      RestartPolicy: { Condition: "none", MaxAttempts: 0 },
      Placement: { Constraints: [...(spec.placement ?? []), ...(needsManagerDisk ? [context.managerNode] : [])] },
    },
    Mode: job ? { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } } : { Replicated: { Replicas: 1 } },
    ...(spec.ports?.length ? { EndpointSpec: { Ports: spec.ports.map(publishedPort) } } : {}),
  };
}

/** A per-node volume for a mount that names one, else a bind mount of the manager's folder. */
function serviceMount(mount: Mount): Record<string, unknown> {
  if (!path.posix.isAbsolute(mount.container)) throw errors.invalidArgument("mount container path", "an absolute path", mount.container);
  if (mount.volume) return { Type: "volume", Source: mount.volume, Target: mount.container, ReadOnly: !!mount.readOnly };
  return { Type: "bind", Source: path.resolve(mount.host), Target: mount.container, ReadOnly: !!mount.readOnly };
}

/** "8080:80", "8080:80/udp" → a port published through the routing mesh. */
function publishedPort(text: string): Record<string, unknown> {
  const [address, protocol = "tcp"] = text.split("/");
  const parts = (address ?? "").split(":");
  if (parts.length !== 2 || !["tcp", "udp"].includes(protocol)) {
    throw errors.invalidArgument("ports", 'entries like "8080:80" (a swarm publishes on every node; no address)', text);
  }
  return { Protocol: protocol, PublishedPort: Number(parts[0]), TargetPort: Number(parts[1]), PublishMode: "ingress" };
}
