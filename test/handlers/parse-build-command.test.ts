import { describe, expect, it } from "vitest";
import { globMatches } from "../../src/handlers/match-targets.js";
import { parseBuildCommand } from "../../src/handlers/parse-build-command.js";

describe("/build commands", () => {
  it("reads /build and /build <target> on lines of their own", () => {
    expect(parseBuildCommand("/build")).toEqual({ all: true, names: [] });
    expect(parseBuildCommand("  /build  \r\n")).toEqual({ all: true, names: [] });
    expect(parseBuildCommand("LGTM\n/build api\n/build web worker")).toEqual({ all: false, names: ["api", "web", "worker"] });
    expect(parseBuildCommand("/build api\n/build")).toEqual({ all: true, names: [] });
  });

  it("ignores mentions inside text, quotes, code blocks and look-alikes", () => {
    for (const body of ["please /build", "> /build", "```\n/build\n```", "/builds", "/build!", "/rebuild", "", null]) {
      expect(parseBuildCommand(body)).toBeUndefined();
    }
    expect(parseBuildCommand("~~~sh\n/build\n~~~\n/build api")).toEqual({ all: false, names: ["api"] });
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
