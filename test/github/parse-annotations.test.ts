import { describe, expect, it } from "vitest";
import { parseAnnotations } from "../../src/github/parse-annotations.js";

describe("annotations from build output", () => {
  it("reads gcc/clang and go locations, relative to the workspace", () => {
    const log = [
      "$ make",
      "/workspace/src/main.c: In function 'main':",
      "/workspace/src/main.c:5:3: error: expected ';' before 'return'",
      "/workspace/src/util.c:12:10: warning: unused variable 'x' [-Wunused-variable]",
      "/workspace/src/util.c:12:10: note: declared here",
      "./cmd/server.go:21:2: undefined: handler",
      "/tmp/cicd-build-abc/workspace/lib/a.c:1:1: fatal error: missing.h: No such file or directory",
      "12:30:45 started",
    ].join("\n");
    expect(parseAnnotations(log)).toEqual([
      { path: "src/main.c", start_line: 5, end_line: 5, start_column: 3, end_column: 3, annotation_level: "failure", message: "expected ';' before 'return'" },
      { path: "src/util.c", start_line: 12, end_line: 12, start_column: 10, end_column: 10, annotation_level: "warning", message: "unused variable 'x' [-Wunused-variable]" },
      { path: "src/util.c", start_line: 12, end_line: 12, start_column: 10, end_column: 10, annotation_level: "notice", message: "declared here" },
      { path: "cmd/server.go", start_line: 21, end_line: 21, start_column: 2, end_column: 2, annotation_level: "failure", message: "undefined: handler" },
      { path: "lib/a.c", start_line: 1, end_line: 1, start_column: 1, end_column: 1, annotation_level: "failure", message: "missing.h: No such file or directory" },
    ]);
  });

  it("reads javac, maven and go test output", () => {
    const log = [
      "src/main/java/App.java:12: error: cannot find symbol",
      "        Strin x = null;",
      "[ERROR] /workspace/src/main/java/Lib.java:[7,15] incompatible types: int cannot be converted to String",
      "[WARNING] /workspace/src/main/java/Lib.java:[9,1] deprecated API",
      "--- FAIL: TestAdd (0.00s)",
      "    add_test.go:14: expected 3, got 4",
    ].join("\n");
    expect(parseAnnotations(log).map((a) => [a.path, a.start_line, a.start_column, a.annotation_level, a.message])).toEqual([
      ["src/main/java/App.java", 12, undefined, "failure", "cannot find symbol"],
      ["src/main/java/Lib.java", 7, 15, "failure", "incompatible types: int cannot be converted to String"],
      ["src/main/java/Lib.java", 9, 1, "warning", "deprecated API"],
      ["add_test.go", 14, undefined, "failure", "expected 3, got 4"],
    ]);
  });

  it("reads tsc and eslint stylish output, and strips colours", () => {
    const log = [
      "src/a.ts(3,5): error TS2322: Type 'string' is not assignable to type 'number'.",
      "",
      "/workspace/src/b.ts",
      "  3:5   error    'x' is assigned a value but never used  @typescript-eslint/no-unused-vars",
      "  10:1  warning  Unexpected console statement             no-console",
      "",
      "\u001b[31m✖ 2 problems (1 error, 1 warning)\u001b[39m",
    ].join("\n");
    expect(parseAnnotations(log)).toEqual([
      { path: "src/a.ts", start_line: 3, end_line: 3, start_column: 5, end_column: 5, annotation_level: "failure", message: "Type 'string' is not assignable to type 'number'.", title: "TS2322" },
      { path: "src/b.ts", start_line: 3, end_line: 3, start_column: 5, end_column: 5, annotation_level: "failure", message: "'x' is assigned a value but never used", title: "@typescript-eslint/no-unused-vars" },
      { path: "src/b.ts", start_line: 10, end_line: 10, start_column: 1, end_column: 1, annotation_level: "warning", message: "Unexpected console statement", title: "no-console" },
    ]);
  });

  it("strips a given workspace prefix, drops duplicates and stops at the limit", () => {
    const line = (i: number) => `/var/lib/cicd/ws/b1/src/x.c:${i}:1: error: boom`;
    const log = [line(1), line(1), ...Array.from({ length: 20 }, (_, i) => line(i + 2))].join("\n");
    const found = parseAnnotations(log, { prefixes: ["/var/lib/cicd/ws/b1/"], max: 5 });
    expect(found.map((a) => `${a.path}:${a.start_line}`)).toEqual(["src/x.c:1", "src/x.c:2", "src/x.c:3", "src/x.c:4", "src/x.c:5"]);
  });

  it("finds nothing in ordinary output", () => {
    const log = ["npm warn deprecated foo@1.0.0", "Server listening on http://localhost:8080", "took 12:03", "BUILD SUCCESS"].join("\n");
    expect(parseAnnotations(log)).toEqual([]);
  });
});
