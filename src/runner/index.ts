export { BuildRunner, type BuildRunnerOptions, type RunnerResult } from "./build-runner.js";
export { readRunnerState, RunnerStateWriter, type RunnerState, type RunnerDecision, type RunnerPhase, type DecisionKind } from "./runner-state.js";
export { CrashLoop, type CrashLoopOptions, type CrashVerdict } from "./crash-loop.js";
export { renderCommand, shellQuote, assertCommandTemplate } from "./shell-command.js";
export { runnerMain, parseRunnerArgs, runnerUsage } from "./main.js";
