import { describe, expectTypeOf, it } from "vitest";
import type { Build as ManagerBuild, BuildStatus as ManagerStatus, TriggerKind as ManagerTrigger } from "../../src/manager/types.js";
import type { RunnerDecision, RunnerPhase, RunnerState } from "../../src/runner/runner-state.js";
import type { BuildsDocument as FileDocument } from "../../src/servicefs/builds-file.js";
import type { CommandResult } from "../../src/shared/protocol.js";
import type { Build, BuildStatus, TriggerKind } from "../../src/shared/api/builds.js";
import type { RunnerDecision as ApiDecision, RunnerExit, RunnerPhase as ApiPhase } from "../../src/shared/api/runners.js";
import type { BuildsDocument } from "../../src/shared/api/targets.js";

/**
 * Until the manager, the runner and the service file system take their types from shared/api/
 * (issue 11, point 2: the lead's moves), their own copies must stay the same as the API's.
 * tsc checks these (`npm run typecheck` covers test/); vitest only runs the empty bodies.
 */
describe("the API's types and the parts' own copies", () => {
  it("are the same", () => {
    expectTypeOf<ManagerBuild>().toEqualTypeOf<Build>();
    expectTypeOf<ManagerStatus>().toEqualTypeOf<BuildStatus>();
    expectTypeOf<ManagerTrigger>().toEqualTypeOf<TriggerKind>();
    expectTypeOf<CommandResult>().toEqualTypeOf<Build["commands"][number]>();
    expectTypeOf<RunnerPhase>().toEqualTypeOf<ApiPhase>();
    expectTypeOf<RunnerDecision>().toEqualTypeOf<ApiDecision>();
    expectTypeOf<NonNullable<RunnerState["lastExit"]>>().toEqualTypeOf<RunnerExit>();
    expectTypeOf<FileDocument>().toExtend<BuildsDocument>();
  });
});
