/**
 * Group commit: pieces of work handed in during one turn of the event loop run
 * together in one SQLite transaction (one fsync for all of them), each in its
 * own savepoint, so one that throws is rolled back alone and the others still
 * commit. Each caller's promise settles only after that commit: nothing is
 * acknowledged before it is durable.
 *
 * @example
 *   const commits = new GroupCommit((fn) => store.inTransaction(fn));
 *   const reply = await commits.run(() => { deliveries.record(…); return store.create(…); });
 *   res.status(201).json(reply); // committed
 */

/** Runs `fn` in a transaction; called inside one, it must make a savepoint (better-sqlite3's `db.transaction` does). */
export type Transaction = <T>(fn: () => T) => T;

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Past this many pieces a batch is committed at once rather than at the end of the turn. */
export const MAX_BATCH = 256;

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing = false;
  /** Batches committed and pieces in them, for the bench and tests. */
  readonly stats = { batches: 0, pieces: 0 };

  constructor(private readonly transaction: Transaction, private readonly maxBatch = MAX_BATCH) {}

  /** Runs `work` in the next group's transaction (in a savepoint); resolves with its value once committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      // Never inside a flush: a nested transaction would be a savepoint, settled before the real commit.
      if (this.queue.length >= this.maxBatch && !this.flushing) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks of this turn: every request parsed in it joins the same commit.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is queued now (normally called by the timer). */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const outcomes: Outcome[] = [];
    this.flushing = true;
    try {
      this.transaction(() => {
        for (const piece of batch) {
          try {
            outcomes.push({ ok: true, value: this.transaction(piece.work) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is durable.
      for (const piece of batch) piece.reject(error);
      return;
    } finally {
      this.flushing = false;
    }
    this.stats.batches++;
    this.stats.pieces += batch.length;
    batch.forEach((piece, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) piece.resolve(outcome.value);
      else piece.reject(outcome.error);
    });
  }
}
