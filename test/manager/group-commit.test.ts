import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/manager/group-commit.js";

describe("GroupCommit", () => {
  it("writes what arrives in one turn as one group, in order, and answers each caller", async () => {
    const groups: number[][] = [];
    const commit = new GroupCommit((xs: number[]) => (groups.push(xs), xs.map((x) => x * 10)));
    const first = await Promise.all([1, 2, 3].map((x) => commit.add(x)));
    const second = await commit.add(4);
    expect(first).toEqual([10, 20, 30]);
    expect(second).toBe(40);
    expect(groups).toEqual([[1, 2, 3], [4]]);
  });

  it("fails only the write that fails on its own when a group fails", async () => {
    const groups: number[][] = [];
    const commit = new GroupCommit((xs: number[]) => {
      groups.push(xs);
      if (xs.includes(2)) throw new Error("two is refused");
      return xs.map((x) => -x);
    });
    const results = await Promise.allSettled([1, 2, 3].map((x) => commit.add(x)));
    expect(results).toEqual([
      { status: "fulfilled", value: -1 },
      { status: "rejected", reason: new Error("two is refused") },
      { status: "fulfilled", value: -3 },
    ]);
    expect(groups).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it("writes what is pending at once on flush (before the database closes)", async () => {
    const written: number[] = [];
    const commit = new GroupCommit((xs: number[]) => (written.push(...xs), xs));
    const pending = commit.add(7);
    commit.flush();
    expect(written).toEqual([7]);
    await expect(pending).resolves.toBe(7);
    commit.flush();
    expect(written).toEqual([7]);
  });
});
