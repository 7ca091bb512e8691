import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Dockerode from "dockerode";
import { errors } from "../../shared/errors.js";
import { dockerMessage } from "./docker-errors.js";
import { sshDialAgent } from "./ssh-dial.js";

/** `docker:` of cicd.yml: which engine, and the client certificate for a TLS one (file paths). */
export interface EngineSettings {
  host?: string;
  tls?: { ca: string; cert: string; key: string };
  /** For an ssh:// host: the ssh_config file to use (default: the user's ~/.ssh/config). */
  sshConfig?: string;
}

/** The variables the docker CLI reads, as config/environment.ts read them. */
export interface EngineEnvironment {
  DOCKER_HOST?: string | undefined;
  DOCKER_TLS_VERIFY?: string | undefined;
  DOCKER_CERT_PATH?: string | undefined;
}

/** A client for one Docker engine, and how to name that engine in messages. */
export interface Engine {
  docker: Dockerode;
  /** The engine's address as the user wrote it (`unix:///var/run/docker.sock`, `tcp://h:2376 (TLS)`). */
  display: string;
}

const DEFAULT_SOCKET = "unix:///var/run/docker.sock";

/**
 * Connects to the engine `settings` name, else the one the environment names, as the docker CLI
 * would: `unix://PATH`, `tcp://HOST:PORT` (TLS with `settings.tls`, or with DOCKER_TLS_VERIFY and
 * the certificates in DOCKER_CERT_PATH, default ~/.docker), `ssh://USER@HOST[:PORT]` (the
 * engine's socket through `docker system dial-stdio` on that host, over the system's ssh, as
 * the docker CLI does: known_hosts, keys and ~/.ssh/config apply; ssh-dial.ts).
 * Nothing is asked of the engine here (see `checkEngine`); unreadable certificates and
 * unsupported schemes throw EXECUTOR_FAILED at once, naming the host.
 */
export function connectEngine(settings: EngineSettings = {}, env: EngineEnvironment = {}): Engine {
  const host = settings.host?.trim() || env.DOCKER_HOST?.trim() || DEFAULT_SOCKET;
  if (host.startsWith("unix://")) return { docker: new Dockerode({ socketPath: host.slice("unix://".length) || "/var/run/docker.sock" }), display: host };
  let url: URL;
  try {
    url = new URL(host.includes("://") ? host : `tcp://${host}`);
  } catch {
    throw errors.executorFailed(`The Docker host ${host} is not an address cicd understands: write unix:///path/to/docker.sock, tcp://host:port or ssh://user@host.`);
  }
  if (url.protocol === "ssh:") {
    const agent = sshDialAgent({ host: url.hostname, user: decodeURIComponent(url.username) || undefined, port: url.port ? Number(url.port) : undefined, config: settings.sshConfig });
    // The host and port are placeholders: every connection is the ssh command's stdio.
    return { docker: new Dockerode({ protocol: "http", host: "docker", port: 80, agent } as Dockerode.DockerOptions), display: host };
  }
  if (url.protocol !== "tcp:" && url.protocol !== "http:" && url.protocol !== "https:") {
    throw errors.executorFailed(`The Docker host ${host} uses ${url.protocol}//, which cicd does not speak: write unix://, tcp:// or ssh://.`);
  }
  const files = settings.tls ?? (tlsWanted(env) ? certFiles(env.DOCKER_CERT_PATH) : undefined);
  if (!files) {
    return { docker: new Dockerode({ protocol: "http", host: url.hostname, port: Number(url.port || 2375) }), display: host };
  }
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw errors.executorFailed(`Cannot read the ${what} for the Docker host ${host} from ${file}: ${(error as Error).message}`);
    }
  };
  const docker = new Dockerode({ protocol: "https", host: url.hostname, port: Number(url.port || 2376), ca: read("CA certificate", files.ca), cert: read("client certificate", files.cert), key: read("client key", files.key) });
  return { docker, display: `${host} (TLS)` };
}

/** DOCKER_TLS_VERIFY as the docker CLI reads it: set to anything but "" or "0". */
function tlsWanted(env: EngineEnvironment): boolean {
  const value = env.DOCKER_TLS_VERIFY?.trim();
  return value !== undefined && value !== "" && value !== "0";
}

function certFiles(dir = path.join(os.homedir(), ".docker")): { ca: string; cert: string; key: string } {
  return { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") };
}

/**
 * Asks the engine who it is (`GET /info`), so a wrong address or certificate stops the server at
 * start with a message naming the host rather than failing the first build.
 */
export async function checkEngine(engine: Engine, timeoutMs = 15_000): Promise<EngineInfo> {
  try {
    return await withTimeout(engine.docker.info() as Promise<EngineInfo>, timeoutMs);
  } catch (error) {
    throw errors.executorFailed(`Cannot reach the Docker engine at ${engine.display}: ${dockerMessage(error)}. ${hint(engine.display)}`);
  }
}

/** The parts of the engine's `/info` that cicd reads. */
export interface EngineInfo {
  ServerVersion?: string;
  Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string; Nodes?: number };
}

/** The engine's part in a swarm: a manager (it can run services), a worker, or none. */
export function swarmRole(info: EngineInfo): "manager" | "worker" | "none" {
  return info.Swarm?.LocalNodeState === "active" ? (info.Swarm.ControlAvailable ? "manager" : "worker") : "none";
}

function hint(display: string): string {
  if (display.startsWith("unix://")) return "Is dockerd running, and may this user use its socket? Set DOCKER_HOST or docker.host in cicd.yml for another engine.";
  if (display.endsWith("(TLS)")) return "Check that the engine listens there with --tlsverify, and that docker.tls (or DOCKER_CERT_PATH) holds a client certificate signed by its CA.";
  return "Check the address, and that the engine listens there (dockerd -H).";
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
