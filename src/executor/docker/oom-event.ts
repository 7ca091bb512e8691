import type Dockerode from "dockerode";
import { jsonLines } from "./json-lines.js";

/**
 * Whether a container that exited with 137 (SIGKILL) was killed for its memory limit, when its
 * state says it was not (`State.OOMKilled` false).
 *
 * Why: the engine sets OOMKilled from containerd's OOM event, and containerd's shim may send
 * that event after the exit event (a race fixed only in later containerd releases). The engine
 * has then already recorded the exit, with OOMKilled false, and the flag stays false — while
 * the engine still logs an `oom` event for that container. So the engine's event log is asked,
 * from the container's start until `graceMs` from now (an OOM event that is still on its way).
 * Any failure to ask reads as "no": the exit is then reported as a plain SIGKILL, as before.
 */
export async function oomEventSeen(docker: Dockerode, containerId: string, startedAt: string | undefined, graceMs = 1_000): Promise<boolean> {
  const started = Date.parse(startedAt ?? "");
  // Seconds, as the API wants them; a start time the engine did not give: the last ten minutes.
  const since = Math.floor((Number.isFinite(started) ? started : Date.now() - 600_000) / 1000);
  const until = Math.ceil((Date.now() + graceMs) / 1000);
  try {
    const stream = (await docker.getEvents({ since, until, filters: { container: [containerId], event: ["oom"] } })) as NodeJS.ReadableStream & { destroy?: () => void };
    try {
      for await (const event of jsonLines(stream as AsyncIterable<Buffer>)) {
        const { Action, status } = event as { Action?: string; status?: string };
        if (Action === "oom" || status === "oom") return true;
      }
      return false;
    } finally {
      stream.destroy?.();
    }
  } catch {
    return false;
  }
}
