import { describe, expect, it } from "vitest";
import { BuilderCallbacks, hashToken } from "../../src/manager/builder-callbacks.js";
import type { BuilderEvent } from "../../src/shared/protocol.js";

const at = new Date().toISOString();

describe("builder callbacks for a builder that serves several builds", () => {
  it("after rebind, uploads count for the new build, the last build's end is forgotten and its ready again is kept", async () => {
    const callbacks = new BuilderCallbacks();
    const token = "builder-token-0123456789";
    callbacks.register("b1", hashToken(token), "first");
    const ready1: BuilderEvent = { type: "ready", builderId: "b1", at, port: 8080, pid: 1 };
    const success = { type: "success", builderId: "b1", at, key: "first", artifacts: [], sizes: {}, commit: null, durationMs: 1 } as unknown as BuilderEvent;
    const ready2: BuilderEvent = { type: "ready", builderId: "b1", at, port: 8080, pid: 1 };
    for (const e of [ready1, success, ready2]) expect(callbacks.receive(token, e)).toBe(true);
    // The ready that came after the build's end, not the first one.
    expect(await callbacks.next("b1", "ready", success)).toBe(ready2);
    expect(callbacks.final("b1")).toBe(success);

    callbacks.rebind("b1", "second");
    expect(callbacks.keyOf("b1", token)).toBe("second");
    expect(callbacks.final("b1")).toBeUndefined();
    expect(await callbacks.next("b1", "ready")).toBe(ready2);
    // The second build's end is waited for anew.
    const waiting = callbacks.next("b1", "final");
    const failure = { type: "failure", builderId: "b1", at, key: "second", code: "BUILD_FAILED", reason: "x", exitCode: 3 } as unknown as BuilderEvent;
    callbacks.receive(token, failure);
    expect(await waiting).toBe(failure);
    expect(callbacks.keyOf("b1", "another-token")).toBeUndefined();
  });
});
