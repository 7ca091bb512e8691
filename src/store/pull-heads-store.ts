import type { PullHead, PullHeads } from "../shared/pull-heads.js";
import type { Db } from "./open-database.js";

/**
 * The head commits each pull request had, with GitHub's time for each (table `pull_heads`), so
 * `/build` builds the commit its commenter saw. Repository names are kept in lower case (GitHub
 * names are case-insensitive); times as ISO strings with milliseconds, so text order is time order.
 *
 * The table holds one time per commit. A pull_request event says "at `at`, the head was `sha`":
 * the first time seen is kept while the head stays there (an `edited` or `labeled` event later on
 * says nothing about when the commit became the head). It moves to the later time only when the
 * head went elsewhere in between (A, then B, then A again by a force-push): the newest time is
 * what a comment after it must find. An event delivered late (earlier `at` than the record)
 * changes nothing, so older moments of a head that returned are forgotten: a comment from then
 * finds no head and is refused, which is the safe side.
 */
export class PullHeadsStore implements PullHeads {
  private readonly stmt;
  private readonly recordOne: (repository: string, number: number, sha: string, at: string) => void;

  constructor(db: Db) {
    this.stmt = {
      get: db.prepare<[string, number, string], { at: string }>("SELECT at FROM pull_heads WHERE repository = ? AND number = ? AND sha = ?"),
      insert: db.prepare<[string, number, string, string]>("INSERT INTO pull_heads (repository, number, sha, at) VALUES (?, ?, ?, ?)"),
      moveTo: db.prepare<[string, string, number, string]>("UPDATE pull_heads SET at = ? WHERE repository = ? AND number = ? AND sha = ?"),
      otherBetween: db.prepare<[string, number, string, string, string], { n: number }>(
        "SELECT COUNT(*) AS n FROM pull_heads WHERE repository = ? AND number = ? AND sha <> ? AND at > ? AND at < ?",
      ),
      heads: db.prepare<[string, number], PullHead>("SELECT sha, at FROM pull_heads WHERE repository = ? AND number = ? ORDER BY at"),
    };
    // Read and write in one transaction: two deliveries of one pull request may be handled at once.
    this.recordOne = db.transaction((repository: string, number: number, sha: string, at: string) => {
      const known = this.stmt.get.get(repository, number, sha);
      if (!known) return void this.stmt.insert.run(repository, number, sha, at);
      if (at > known.at && this.stmt.otherBetween.get(repository, number, sha, known.at, at)!.n > 0) this.stmt.moveTo.run(at, repository, number, sha);
    });
  }

  record(repository: string, number: number, sha: string, at: string): void {
    const time = isoTime(at);
    if (!time) return;
    this.recordOne(repository.toLowerCase(), number, sha.toLowerCase(), time);
  }

  heads(repository: string, number: number): PullHead[] {
    return this.stmt.heads.all(repository.toLowerCase(), number);
  }
}

/** GitHub's `2019-05-15T15:20:33Z` as `2019-05-15T15:20:33.000Z`; undefined when unreadable. */
function isoTime(at: string): string | undefined {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}
