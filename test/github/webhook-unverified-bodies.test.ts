import { describe, expect, it } from "vitest";
import { UnverifiedBodies } from "../../src/github/unverified-bodies.js";

describe("limits on unverified webhook bodies", () => {
  const setup = () => {
    let now = 0;
    const cut: string[] = [];
    const bodies = new UnverifiedBodies({ maxBodies: 3, maxBytes: 100, stalledAfterMs: 1000 }, () => now);
    const admit = (name: string, bytes: number) => bodies.admit(bytes, () => cut.push(name));
    return { bodies, cut, admit, advance: (ms: number) => (now += ms) };
  };

  it("admits bodies while their count and declared bytes fit, and takes room back once", () => {
    const { bodies, admit } = setup();
    const a = admit("a", 60)!;
    expect(admit("b", 41)).toBeUndefined(); // 101 bytes
    const b = admit("b", 40)!;
    expect(admit("c", 0)).toBeDefined();
    expect(admit("d", 0)).toBeUndefined(); // a fourth body
    a();
    a();
    expect(bodies.inFlight).toEqual({ bodies: 2, bytes: 40 });
    b();
    expect(bodies.inFlight).toEqual({ bodies: 1, bytes: 0 });
  });

  it("cuts off the oldest stalled bodies, only as many as needed and only if that makes room", () => {
    const { bodies, cut, admit, advance } = setup();
    admit("old", 30);
    advance(500);
    admit("older-than-new", 30);
    advance(600); // "old" stalled (1100 ms), the second not yet (600 ms)
    admit("young", 30);
    // 50 bytes would need both older bodies cut off, and only one is stalled: refused, nothing cut.
    expect(admit("big", 50)).toBeUndefined();
    expect(cut).toEqual([]);
    // One body's room is enough: the stalled one goes.
    expect(admit("small", 10)).toBeDefined();
    expect(cut).toEqual(["old"]);
    expect(bodies.inFlight).toEqual({ bodies: 3, bytes: 70 });
    // Nothing is stalled now: a new body is refused.
    expect(admit("next", 0)).toBeUndefined();
    expect(cut).toEqual(["old"]);
  });
});
