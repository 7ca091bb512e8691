/** A head commit of a pull request and GitHub's time for it (ISO 8601). */
export interface PullHead {
  sha: string;
  at: string;
}

/**
 * The head commits each pull request had, as pull_request webhooks told them, so that `/build`
 * builds the commit its commenter saw (src/store/pull-heads-store.ts). Repository names are
 * case-insensitive; times are GitHub's (the payloads' `updated_at`, the comment's `created_at`).
 */
export interface PullHeads {
  /** `sha` was the head of pull request `number` at `at` (an unreadable time records nothing). */
  record(repository: string, number: number, sha: string, at: string): void;
  /** Every head recorded for the pull request, oldest first. */
  heads(repository: string, number: number): PullHead[];
}
