import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { errors } from "../shared/errors.js";
import { baseEnv, runProcess } from "./run-process.js";

/**
 * Address ranges an untrusted build's commands may not reach: private networks (the manager,
 * other containers, the host's services, a company network), link-local (cloud metadata
 * services), shared address space, loopback outside the container, multicast and reserved.
 * The public internet (package registries) stays reachable.
 */
export const DENIED_RANGES = [
  "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
  "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
];

const CHAIN = "CICD-UNTRUSTED";

/**
 * Shuts the container's network off for every user but root, before an untrusted build runs:
 * its commands (never root) reach only the public internet and the container's resolvers
 * (port 53), never `DENIED_RANGES` nor `extra` (the host's own addresses, which the manager
 * passes). The builder itself (root: its callbacks, its git fetch) is not restricted. IPv6 is
 * closed to the commands entirely when the container has it. Fails closed: throws
 * EXECUTOR_FAILED when a rule cannot be set, so the build is never run without them.
 * Needs iptables in the image and CAP_NET_ADMIN; the rules live in the container's own network
 * namespace and die with it.
 */
export async function isolateNetwork(extra: string[]): Promise<void> {
  for (const cidr of extra) {
    if (!isIP(cidr.split("/")[0] ?? "")) throw errors.invalidArgument("--deny-net", "an IP address or CIDR range", cidr);
  }
  const v4 = extra.filter((c) => isIP(c.split("/")[0]!) === 4);
  const nameservers = await resolvers();
  const rules: string[][] = [
    ["-N", CHAIN],
    ["-A", CHAIN, "-o", "lo", "-j", "ACCEPT"],
    ["-A", CHAIN, "-m", "owner", "--uid-owner", "0", "-j", "ACCEPT"],
    ["-A", CHAIN, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
    ...nameservers.filter((ns) => isIP(ns) === 4).flatMap((ns) => ["udp", "tcp"].map((p) => ["-A", CHAIN, "-d", ns, "-p", p, "--dport", "53", "-j", "ACCEPT"])),
    ...[...DENIED_RANGES, ...v4].map((cidr) => ["-A", CHAIN, "-d", cidr, "-j", "REJECT"]),
    ["-I", "OUTPUT", "1", "-j", CHAIN],
  ];
  for (const rule of rules) await iptables("iptables", rule);
  if (await hasIpv6()) {
    for (const rule of [
      ["-N", CHAIN],
      ["-A", CHAIN, "-o", "lo", "-j", "ACCEPT"],
      ["-A", CHAIN, "-m", "owner", "--uid-owner", "0", "-j", "ACCEPT"],
      ["-A", CHAIN, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
      ["-A", CHAIN, "-j", "REJECT"],
      ["-I", "OUTPUT", "1", "-j", CHAIN],
    ]) await iptables("ip6tables", rule);
  }
}

async function iptables(program: string, args: string[]): Promise<void> {
  const result = await runProcess(program, ["-w", ...args], { env: baseEnv() });
  if (result.code !== 0) {
    const why = (result.stderr.trim().split("\n").at(-1) ?? "").slice(0, 200) || `exit code ${result.code}`;
    throw errors.executorFailed(
      `Could not isolate the network of this untrusted build (${program} ${args.join(" ")}: ${why}); it was not run. ` +
        "The builder image needs iptables (cicd-builder has it) and the container CAP_NET_ADMIN.",
    );
  }
}

/** The container's DNS servers, which the commands may still ask (port 53 only). */
async function resolvers(): Promise<string[]> {
  const text = await readFile("/etc/resolv.conf", "utf8").catch(() => "");
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
}

/** Whether the container has an IPv6 address besides loopback. */
async function hasIpv6(): Promise<boolean> {
  if (!existsSync("/proc/net/if_inet6")) return false;
  const text = await readFile("/proc/net/if_inet6", "utf8").catch(() => "");
  return text.split("\n").some((line) => line.trim() && !line.trim().endsWith(" lo"));
}
