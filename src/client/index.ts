export { CicdClient, CicdApiError, type ClientOptions, type TargetSummary, type Build, type BuildStatus, type RunnerView, type BuildsDocument, type BuildRecord, type MarkBadRequest, type BuildArtifact, type LogEvent, type ArtifactStream } from "./cicd-client.js";
export { serverSentEvents, type ServerSentEvent } from "./server-sent-events.js";
