import { describe, expect, it } from "vitest";
import { serviceSpec } from "../../src/executor/swarm/service-spec.js";
import type { WorkloadSpec } from "../../src/executor/types.js";

const context = { labels: { "cicd.instance": "i1" }, managerNode: "node.id==abc", hosts: ["172.17.0.1 host.docker.internal"], jobs: true };
const builder: WorkloadSpec = {
  id: "b1",
  role: "builder",
  target: "app",
  buildKey: "k123456",
  image: "cicd-builder",
  args: ["--once"],
  env: { A: "1" },
  mounts: [{ host: "/data/cache/targets/app/home_cache", container: "/home/cache", volume: "cicd-cache-app-home_cache" }],
  limits: { memory: "2g", cpus: 2, pids: 512 },
  capabilities: ["CHOWN", "SETUID"],
  placement: ["node.labels.arch==arm64"],
};

type Spec = {
  Labels: Record<string, string>;
  Mode: Record<string, unknown>;
  TaskTemplate: {
    ContainerSpec: Record<string, unknown> & { Mounts: Array<Record<string, unknown>> };
    Resources: { Limits: Record<string, unknown>; Reservations: Record<string, unknown> };
    RestartPolicy: Record<string, unknown>;
    Placement: { Constraints: string[] };
  };
};

describe("a workload as a Swarm service", () => {
  it("a builder: a one-shot job with the container labels, limits, a memory reservation, the target's placement and a node volume", () => {
    const spec = serviceSpec(builder, context) as unknown as Spec;
    expect(spec.Labels).toMatchObject({ "cicd.role": "builder", "cicd.target": "app", "cicd.build": "k123456", "cicd.id": "b1", "cicd.managed": "true", "cicd.instance": "i1" });
    expect(spec.Mode).toEqual({ ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } });
    expect(spec.TaskTemplate.RestartPolicy).toMatchObject({ Condition: "none" });
    expect(spec.TaskTemplate.Resources.Limits).toEqual({ MemoryBytes: 2 * 1024 ** 3, NanoCPUs: 2e9, Pids: 512 });
    expect(spec.TaskTemplate.Resources.Reservations).toEqual({ MemoryBytes: 512 * 1024 ** 2 });
    expect(spec.TaskTemplate.Placement.Constraints).toEqual(["node.labels.arch==arm64"]);
    expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([{ Type: "volume", Source: "cicd-cache-app-home_cache", Target: "/home/cache", ReadOnly: false }]);
    expect(spec.TaskTemplate.ContainerSpec).toMatchObject({ Init: true, CapabilityDrop: ["ALL"], CapabilityAdd: ["CAP_CHOWN", "CAP_SETUID"], Hosts: context.hosts, Env: ["A=1"] });
  });

  it("on engines before 24, a builder is a one-replica service that is never restarted", () => {
    const spec = serviceSpec(builder, { ...context, jobs: false }) as unknown as Spec;
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 1 } });
    expect(spec.TaskTemplate.RestartPolicy).toMatchObject({ Condition: "none" });
  });

  it("a workload that mounts the manager's folders is placed on the manager's node; runners publish through the routing mesh", () => {
    const runner: WorkloadSpec = { ...builder, id: "r1", role: "runner", mounts: [{ host: "/srv/sfs/app", container: "/srv/sfs/app" }], ports: ["8080:80"] };
    const spec = serviceSpec(runner, context) as unknown as Spec & { EndpointSpec: unknown };
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 1 } });
    expect(spec.TaskTemplate.Placement.Constraints).toEqual(["node.labels.arch==arm64", "node.id==abc"]);
    expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([{ Type: "bind", Source: "/srv/sfs/app", Target: "/srv/sfs/app", ReadOnly: false }]);
    expect(spec.EndpointSpec).toEqual({ Ports: [{ Protocol: "tcp", PublishedPort: 8080, TargetPort: 80, PublishMode: "ingress" }] });
    expect(() => serviceSpec({ ...runner, ports: ["127.0.0.1:8080:80"] }, context)).toThrow(/a swarm publishes on every node/);
    expect(() => serviceSpec({ ...runner, mounts: [{ host: "/var/run/docker.sock", container: "/var/run/docker.sock" }] }, context)).toThrow(/Docker socket/);
  });
});
