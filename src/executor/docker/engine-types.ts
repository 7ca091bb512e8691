/**
 * The parts of Docker Engine API v1.41 objects that cicd writes or reads (field names as the
 * engine spells them). Anything else the engine sends is ignored.
 */

export type PortBindings = Record<string, Array<{ HostIp?: string; HostPort: string }>>;

export interface HostConfig {
  Binds?: string[];
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  PidsLimit?: number;
  Privileged?: boolean;
  SecurityOpt?: string[];
  CapDrop?: string[];
  CapAdd?: string[];
  Init?: boolean;
  ExtraHosts?: string[];
  PortBindings?: PortBindings;
  AutoRemove?: boolean;
  RestartPolicy?: { Name: "" | "no" | "always" | "unless-stopped" | "on-failure"; MaximumRetryCount?: number };
}

/** Body of POST /containers/create, plus the container's `name` (sent in the query). */
export interface ContainerCreateOptions {
  name?: string;
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Tty?: boolean;
  HostConfig?: HostConfig;
}

interface Networks {
  Networks?: Record<string, { IPAddress?: string }>;
}

/** GET /containers/{id}/json */
export interface ContainerInspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; OOMKilled: boolean };
  Config: { Tty?: boolean; Labels?: Record<string, string> | null };
  NetworkSettings: Networks;
}

/** An entry of GET /containers/json */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels?: Record<string, string> | null;
  /** "created", "running", "exited", ... */
  State: string;
  NetworkSettings?: Networks | null;
}

/** GET /images/{name}/json */
export interface ImageInspect {
  Id: string;
  Config?: { Labels?: Record<string, string> | null } | null;
}

/** One JSON line of the progress stream of POST /build and POST /images/create. */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Answer of POST /containers/{id}/wait. */
export interface WaitResult {
  StatusCode: number;
  Error?: { Message?: string } | null;
}
