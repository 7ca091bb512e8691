import { describe, expect, it } from "vitest";
import { InstallationLanes, type LaneOutcome } from "../../src/github/installation-lanes.js";
import { Sleeper } from "../../src/github/sleeper.js";

/** Lanes whose work records what ran, when, and how many ran at once per installation. */
function recorder(outcomes: (item: string, failures: number) => LaneOutcome = () => "done", ms = 5) {
  const served: string[] = [];
  const inFlight = new Map<number, number>();
  let most = 0;
  let all = 0;
  let mostAll = 0;
  const lanes = new InstallationLanes<string>(
    async (item, failures) => {
      const installation = Number(item.split(":")[0]);
      const now = (inFlight.get(installation) ?? 0) + 1;
      inFlight.set(installation, now);
      most = Math.max(most, now);
      mostAll = Math.max(mostAll, ++all);
      served.push(item);
      await new Promise((resolve) => setTimeout(resolve, ms));
      inFlight.set(installation, now - 1);
      all--;
      return outcomes(item, failures);
    },
    new Sleeper(),
    () => false,
  );
  return { lanes, served, mostAtOnce: () => most, mostInAll: () => mostAll };
}

describe("installation lanes", () => {
  it("serves one item at a time per installation, urgent ones first, each group in arrival order", async () => {
    const r = recorder();
    r.lanes.add(1, "1:queued-a", false);
    r.lanes.add(1, "1:queued-b", false);
    r.lanes.add(1, "1:started-c", true);
    r.lanes.add(1, "1:queued-b", false); // a new change keeps its place
    r.lanes.add(1, "1:queued-d", false);
    r.lanes.add(1, "1:queued-d", true); // moved up when it starts
    await r.lanes.idle();
    // queued-a was already on its way when the others arrived.
    expect(r.served).toEqual(["1:queued-a", "1:started-c", "1:queued-d", "1:queued-b"]);
    expect(r.mostAtOnce()).toBe(1);
  });

  it("runs different installations side by side", async () => {
    const r = recorder(() => "done", 20);
    for (const item of ["1:a", "2:a", "3:a", "1:b", "2:b"]) r.lanes.add(Number(item[0]), item, false);
    await r.lanes.idle();
    expect(r.served.sort()).toEqual(["1:a", "1:b", "2:a", "2:b", "3:a"]);
    expect(r.mostAtOnce()).toBe(1);
    expect(r.mostInAll()).toBe(3);
  });

  it("keeps an item with more to send in front, and after a failure waits and moves on to the next", async () => {
    let sends = 0;
    const r = recorder((item, failures) => {
      if (item === "1:big") return ++sends < 3 ? "again" : "done";
      if (item === "1:flaky" && r.served.filter((s) => s === "1:flaky").length < 3) return { waitMs: 10 * (failures + 1) };
      return "done";
    });
    r.lanes.add(1, "1:flaky", true);
    r.lanes.add(1, "1:big", true);
    r.lanes.add(1, "1:other", true);
    await r.lanes.idle();
    expect(r.served).toEqual(["1:flaky", "1:big", "1:big", "1:big", "1:other", "1:flaky", "1:flaky"]);
  });

  it("drops removed items and stops serving once stopped", async () => {
    let stopped = false;
    const served: string[] = [];
    const lanes = new InstallationLanes<string>(
      async (item) => {
        served.push(item);
        stopped = true;
        return "done";
      },
      new Sleeper(),
      () => stopped,
    );
    lanes.add(1, "a", false);
    lanes.add(1, "b", false);
    lanes.add(1, "c", false);
    lanes.remove(1, "b");
    await lanes.idle();
    expect(served).toEqual(["a"]);
  });
});
