import type { Annotation } from "./parse-annotations.js";
import type { CheckRunState } from "./check-run-state.js";

/** GitHub takes at most 50 annotations per request; more go in follow-up updates. */
export const ANNOTATIONS_PER_REQUEST = 50;

/**
 * The body of a create/update request that sets a check run to `state`, carrying `annotations`
 * (at most 50). `minimal` leaves out everything GitHub could refuse (details link, actions,
 * annotations, the log), for a second try after a 422.
 */
export function checkRunRequest(
  state: CheckRunState,
  options: { annotations: Annotation[]; minimal: boolean; detailsUrl?: string },
) {
  return {
    status: state.status,
    ...(state.conclusion ? { conclusion: state.conclusion } : {}),
    ...(state.started_at ? { started_at: state.started_at } : {}),
    ...(state.completed_at ? { completed_at: state.completed_at } : {}),
    ...(options.detailsUrl && !options.minimal ? { details_url: options.detailsUrl } : {}),
    ...checkRunOutput(state, options),
  };
}

/**
 * The output and buttons of a check run in `state`, with `annotations` if any. `minimal` keeps
 * only the title and the summary (cut to 4,000 characters): what GitHub takes after a 422.
 */
export function checkRunOutput(state: CheckRunState, options: { annotations?: Annotation[]; minimal: boolean }) {
  const { title, summary, text } = state.output;
  const annotations = options.annotations ?? [];
  return {
    ...(state.actions && !options.minimal ? { actions: state.actions } : {}),
    output: options.minimal
      ? { title, summary: summary.slice(0, 4000) }
      : { title, summary, ...(text ? { text } : {}), ...(annotations.length ? { annotations } : {}) },
  };
}

/** A follow-up update that only adds annotations (GitHub wants title and summary with them). */
export function annotationsRequest(state: CheckRunState, annotations: Annotation[]) {
  return { output: { title: state.output.title, summary: state.output.summary, annotations } };
}

/** The link a check run and a `/build` reply point at. */
export function logUrl(publicUrl: string, key: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/api/v1/builds/${encodeURIComponent(key)}/log`;
}
