import path from "node:path";
import { errors } from "../../shared/errors.js";
import type { Mount, WorkloadSpec } from "../types.js";
import type Dockerode from "dockerode";

type PortBindings = Record<string, Array<{ HostIp?: string; HostPort: string }>>;

/** Entry point of the builder and runner images: the container bundle (docker/build/cicd.mjs). */
const BUNDLE_ENTRYPOINT = ["node", "/opt/cicd/cicd.mjs"];
export const MANAGED_LABEL = "cicd.managed";

/** Container name of a workload; Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
function containerName(spec: Pick<WorkloadSpec, "role" | "id">): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(spec.id)) {
    throw errors.invalidArgument("workload id", "letters, digits, '.', '_' or '-'", spec.id);
  }
  return `cicd-${spec.role}-${spec.id}`;
}

/**
 * The Docker create options for a workload: labelled so a restarted manager finds it, limited
 * (memory without extra swap, CPUs, pids), never privileged, unable to gain privileges, with
 * only the capabilities the spec names (when it names them), and
 * able to reach the manager at host.docker.internal. Not auto-removed: the exit code and the
 * OOM flag are read first.
 */
export function containerConfig(spec: WorkloadSpec, options: { volumes?: boolean } = {}): Dockerode.ContainerCreateOptions & { name: string; Labels: Record<string, string> } {
  // An engine on another machine keeps caches in volumes of its own (Mount.volume).
  const asVolume = (m: Mount) => options.volumes === true && m.volume !== undefined;
  const memory = spec.limits?.memory === undefined ? undefined : parseMemory(spec.limits.memory);
  const { exposed, bindings } = portConfig(spec.ports ?? [], spec.listenPort);
  const labels: Record<string, string> = {
    [MANAGED_LABEL]: "true",
    "cicd.role": spec.role,
    "cicd.target": spec.target,
    "cicd.id": spec.id,
  };
  if (spec.buildKey) labels["cicd.build"] = spec.buildKey;
  return {
    name: containerName(spec),
    Image: spec.image,
    Entrypoint: spec.entrypoint ?? BUNDLE_ENTRYPOINT,
    Cmd: [spec.role, ...spec.args],
    Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
    Labels: labels,
    ExposedPorts: exposed,
    // Keeps stdout and stderr apart in the log stream (a TTY merges them).
    Tty: false,
    HostConfig: {
      Binds: spec.mounts.filter((m) => !asVolume(m)).map(bind),
      Mounts: spec.mounts.filter(asVolume).map((m) => ({ Type: "volume" as const, Source: m.volume!, Target: m.container, ReadOnly: !!m.readOnly })),
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: spec.limits?.cpus === undefined ? undefined : Math.round(spec.limits.cpus * 1e9),
      PidsLimit: spec.limits?.pids,
      Privileged: false,
      SecurityOpt: ["no-new-privileges"],
      ...(spec.capabilities ? { CapDrop: ["ALL"], CapAdd: spec.capabilities } : {}),
      // tini as PID 1: forwards SIGTERM to node (which ignores it as PID 1) and reaps the
      // processes build commands leave behind.
      Init: true,
      ExtraHosts: ["host.docker.internal:host-gateway"],
      PortBindings: bindings,
      AutoRemove: false,
      RestartPolicy: { Name: "no" },
    },
  };
}

/** "512m", "2g", "1.5g", "300k", "1048576" (bytes) → bytes. */
export function parseMemory(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(value.trim());
  if (!match) throw errors.invalidArgument("limits.memory", "a size like 512m or 2g", value);
  const factor = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase()] ?? 1;
  const bytes = Math.floor(Number(match[1]) * factor);
  // Docker refuses less than 6 MB; say so in our words rather than its.
  if (bytes < 6 * 1024 * 1024) throw errors.invalidArgument("limits.memory", "at least 6m", value);
  return bytes;
}

const dockerSockets = new Set(["/var/run/docker.sock", "/run/docker.sock"]);

export function bind(mount: Mount): string {
  const host = path.resolve(mount.host);
  for (const [name, value] of [["mount host path", host], ["mount container path", mount.container]] as const) {
    // Binds are "host:container[:ro]", so a colon or comma inside a path would change its meaning.
    if (/[:,]/.test(value)) throw errors.invalidArgument(name, "a path without ':' or ','", value);
  }
  if (!path.posix.isAbsolute(mount.container)) {
    throw errors.invalidArgument("mount container path", "an absolute path", mount.container);
  }
  // Access to the Docker socket is root on the host: a build must never get it.
  if (dockerSockets.has(host) || path.basename(host) === "docker.sock") {
    throw errors.unsafePath("mount", host, "workloads never get the Docker socket");
  }
  return `${host}:${mount.container}${mount.readOnly ? ":ro" : ""}`;
}

/** Docker-style "8080:80", "127.0.0.1:8080:80", "8080:80/udp" → exposed ports and bindings. */
function portConfig(ports: string[], listenPort?: number): { exposed: Record<string, object>; bindings: PortBindings } {
  const exposed: Record<string, object> = {};
  const bindings: PortBindings = {};
  if (listenPort !== undefined) exposed[`${checkPort(String(listenPort), "listenPort")}/tcp`] = {};
  for (const spec of ports) {
    const [address, protocol = "tcp"] = spec.split("/");
    const parts = (address ?? "").split(":");
    if (parts.length < 2 || parts.length > 3 || !["tcp", "udp"].includes(protocol)) {
      throw errors.invalidArgument("ports", 'entries like "8080:80" or "127.0.0.1:8080:80"', spec);
    }
    const inside = `${checkPort(parts.at(-1)!, "ports")}/${protocol}`;
    const binding = { HostPort: checkPort(parts.at(-2)!, "ports"), ...(parts.length === 3 ? { HostIp: parts[0]! } : {}) };
    exposed[inside] = {};
    (bindings[inside] ??= []).push(binding);
  }
  return { exposed, bindings };
}

function checkPort(value: string, field: string): string {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw errors.invalidArgument(field, "a port from 1 to 65535", value);
  return String(port);
}
