import { describe, expect, it } from "vitest";
import { globMatches } from "../../src/handlers/match-targets.js";
import { parseBuildCommand } from "../../src/handlers/parse-build-command.js";

describe("/build commands", () => {
  it("reads /build and /build <target> on lines of their own", () => {
    expect(parseBuildCommand("/build")).toEqual({ all: true, names: [], shas: [] });
    expect(parseBuildCommand("  /build  \r\n")).toEqual({ all: true, names: [], shas: [] });
    expect(parseBuildCommand("LGTM\n/build api\n/build web worker")).toEqual({ all: false, names: ["api", "web", "worker"], shas: [] });
    expect(parseBuildCommand("/build api\n/build")).toEqual({ all: true, names: [], shas: [] });
  });

  it("ignores mentions inside text, quotes, code blocks and look-alikes", () => {
    for (const body of ["please /build", "> /build", "```\n/build\n```", "/builds", "/build!", "/rebuild", "", null]) {
      expect(parseBuildCommand(body)).toBeUndefined();
    }
    expect(parseBuildCommand("~~~sh\n/build\n~~~\n/build api")).toEqual({ all: false, names: ["api"], shas: [] });
  });

  it("reads a word of 7 to 40 hex digits as a commit: /build <sha> is every target, /build <target> <sha> one", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    expect(parseBuildCommand(`/build ${sha}`)).toEqual({ all: true, names: [], shas: [sha] });
    expect(parseBuildCommand("/build api 0123ABC")).toEqual({ all: false, names: ["api"], shas: ["0123abc"] });
    expect(parseBuildCommand(`/build api web ${sha}`)).toEqual({ all: false, names: ["api", "web"], shas: [sha] });
    // Too short or too long for a commit, or not hex: a target name (the handler says if unknown).
    expect(parseBuildCommand("/build 012345 abcdefg")).toEqual({ all: false, names: ["012345", "abcdefg"], shas: [] });
    expect(parseBuildCommand(`/build ${sha}0`)).toEqual({ all: false, names: [`${sha}0`], shas: [] });
    // Two commits are both reported; the handler refuses to pick one.
    expect(parseBuildCommand("/build 1111111\n/build api 2222222")?.shas).toEqual(["1111111", "2222222"]);
  });

  it("keeps a target whose name looks like a commit working", () => {
    expect(parseBuildCommand("/build cafe1234", ["cafe1234", "api"])).toEqual({ all: false, names: ["cafe1234"], shas: [] });
    expect(parseBuildCommand("/build cafe1234 deadbeef", ["cafe1234"])).toEqual({ all: false, names: ["cafe1234"], shas: ["deadbeef"] });
  });
});

describe("branch patterns", () => {
  it("matches names literally and * within a segment, ** across segments", () => {
    expect(globMatches("main", "main")).toBe(true);
    expect(globMatches("main", "main2")).toBe(false);
    expect(globMatches("release/*", "release/1.2")).toBe(true);
    expect(globMatches("release/*", "release/1.2/hotfix")).toBe(false);
    expect(globMatches("release/**", "release/1.2/hotfix")).toBe(true);
    expect(globMatches("v1.*", "v1x2")).toBe(false); // the dot is literal
  });
});
