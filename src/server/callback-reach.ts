import { isIP } from "node:net";

/** What decides whether an executor's workloads can call the server back. */
export interface CallbackRoute {
  /** The executor's name (`docker`, `swarm`, `local`), for the message. */
  executor: string;
  /** Its workloads are host processes (not isolated): they reach the host's own addresses. */
  hostProcesses: boolean;
  /** Where the executor's workloads reach the machine of the server by default (Executor.managerHost). */
  managerHost: string;
  /** `callbackHost` of cicd.yml, when set: it replaces managerHost. */
  callbackHost?: string;
  /** The address the server is bound to, as the socket reports it (0.0.0.0, ::, 127.0.0.1, …). */
  bound: string;
  port: number;
}

/**
 * One line for the server's log when the executor's workloads cannot call the server back at the
 * address it listens on, else undefined. Builders announce `ready` and send their results over
 * HTTP to the server; when they cannot, every build waits and then fails, so this is said at
 * start rather than discovered one build later:
 *  - containers (docker) reach the host through its bridge address (host.docker.internal),
 *    never through the host's loopback: a server bound to loopback is out of their reach, and a
 *    loopback callbackHost is the container's own loopback;
 *  - host processes (local) call 127.0.0.1 unless told otherwise: a server bound to one other
 *    address does not answer there.
 */
export function callbackWarning(route: CallbackRoute): string | undefined {
  const target = route.callbackHost ?? route.managerHost;
  const url = `http://${hostInUrl(target)}:${route.port}`;
  const fix = "set host: 0.0.0.0 in cicd.yml (or an address they reach, and callbackHost to it)";
  if (route.hostProcesses) {
    if (isWildcard(route.bound) || sameHost(route.bound, target) || (isLoopback(route.bound) && isLoopback(target))) return undefined;
    return `builds cannot call back: the server listens on ${route.bound} only, and local builders call ${url}; set callbackHost: ${route.bound} in cicd.yml (or host: 0.0.0.0)`;
  }
  if (isLoopback(target)) {
    return `builds cannot call back: ${route.executor} builders would call ${url}, which inside a container is the container itself; set callbackHost to an address of this machine they reach (or leave it unset for ${route.managerHost})`;
  }
  if (isLoopback(route.bound)) {
    return `builds cannot call back: the server listens on ${route.bound} only, which ${route.executor} builders cannot reach from their containers (they call ${url}); ${fix}`;
  }
  if (!isWildcard(route.bound) && route.callbackHost === undefined) {
    // host.docker.internal is the bridge's address: a server bound to another one is not there.
    return `builds cannot call back: ${route.executor} builders call ${url} (the bridge to this machine), but the server listens on ${route.bound} only; set callbackHost: ${route.bound} in cicd.yml (or host: 0.0.0.0)`;
  }
  return undefined;
}

/**
 * How the start-up line names where the server listens: the address it is bound to and, when
 * that is every address, the URL to use from this machine (and the public one, when set).
 */
export function listeningWhere(bound: string, port: number, publicUrl?: string): { url: string; where: string } {
  const boundUrl = `http://${hostInUrl(bound)}:${port}`;
  // Every address, IPv6's `::` too (dual stack), includes 127.0.0.1.
  const url = isWildcard(bound) ? `http://127.0.0.1:${port}` : boundUrl;
  const uses = [isWildcard(bound) ? `from this machine ${url}` : undefined, publicUrl ? `public ${publicUrl}` : undefined].filter(Boolean);
  const every = isWildcard(bound) ? "every address" : undefined;
  const notes = [every, ...uses].filter(Boolean).join("; ");
  return { url, where: notes ? `${boundUrl} (${notes})` : boundUrl };
}

function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || address === "::" || address === "::0";
}

/** 127.0.0.0/8, ::1, IPv4-mapped loopback and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function hostInUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
