/**
 * Runs the writes that arrive in one turn of the event loop together, in one SQLite
 * transaction: the commit is most of what an insert costs (measured on the build store: 248 µs
 * for one insert alone, 120 µs each in groups of 4, 85 µs in groups of 16), and webhooks that
 * arrive together are read in the same turn. A caller waits at most until the end of the turn
 * (setImmediate) and gets its own result. When the group fails as a whole, each write is tried
 * again on its own, so one bad write fails only its own caller.
 */
export class GroupCommit<I, O> {
  private pending: { input: I; resolve: (output: O) => void; reject: (error: unknown) => void }[] = [];

  /** `writeAll` writes every input in one transaction and returns their outputs in order, or throws. */
  constructor(private readonly writeAll: (inputs: I[]) => O[]) {}

  add(input: I): Promise<O> {
    return new Promise((resolve, reject) => {
      if (this.pending.push({ input, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  /** Writes what is pending now (e.g. before the database closes). */
  flush(): void {
    const group = this.pending;
    if (!group.length) return;
    this.pending = [];
    let outputs: O[] | undefined;
    try {
      outputs = this.writeAll(group.map((g) => g.input));
    } catch {
      // Tried one by one below: only the write that fails again gets the error.
    }
    group.forEach((g, i) => {
      if (outputs) return g.resolve(outputs[i]!);
      try {
        g.resolve(this.writeAll([g.input])[0]!);
      } catch (error) {
        g.reject(error);
      }
    });
  }
}
