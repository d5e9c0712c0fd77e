/**
 * Per-attempt push tokens: minted when an attempt is handed to an agent, revoked as soon as the
 * attempt is over (finished, requeued, cancelled, lost), so no agent holds a GitHub credential
 * longer than its task. Tokens live only in memory and in the one assignment frame; never logged.
 */
import type { Logger } from '../../shared/log.js';
import { ACTIVE_STATES, type Task, type TaskRow } from '../task-model.js';
import type { GitHubApp } from './github-app.js';

/** What this needs of the task store. */
export interface TaskSource {
  get(id: number): Task | undefined;
  onChange(listener: (task: Task) => void): void;
}

export class PushTokens {
  private readonly held = new Map<number, { attempt: number; token: string }>();
  private readonly revoking = new Set<Promise<void>>();

  constructor(
    private readonly app: GitHubApp,
    private readonly store: TaskSource,
    private readonly log: Logger,
  ) {
    store.onChange((task) => {
      const held = this.held.get(task.id);
      if (held && (held.attempt !== task.attempt || !ACTIVE_STATES.includes(task.state))) this.revoke(task.id);
    });
  }

  /** A token for this attempt's push, or undefined when the task has no repository. */
  async forAttempt(row: TaskRow, attempt: number): Promise<string | undefined> {
    if (!row.repo) return undefined;
    const installationId = row.installation_id ?? (await this.app.installationOf(row.repo));
    const { token } = await this.app.mintPushToken(installationId, row.repo);
    const now = this.store.get(row.id);
    if (!now || now.attempt !== attempt || !ACTIVE_STATES.includes(now.state)) {
      this.track(this.app.revoke(token), row.id);
      throw new Error('the attempt ended before its push token was ready');
    }
    this.revoke(row.id); // an earlier attempt's, if any is left
    this.held.set(row.id, { attempt, token });
    this.log.info({ taskId: row.id, attempt, repo: row.repo, installationId }, 'push token minted (this repository, contents: write)');
    return token;
  }

  /** Revokes the token of a task's attempt, if one is held (in the background; a failure is logged). */
  revoke(taskId: number): void {
    const held = this.held.get(taskId);
    if (!held) return;
    this.held.delete(taskId);
    this.track(this.app.revoke(held.token).then(() => this.log.info({ taskId, attempt: held.attempt }, 'push token revoked')), taskId);
  }

  /** How many tokens are out now. */
  get outstanding(): number {
    return this.held.size;
  }

  /**
   * Waits for the revocations under way (coordinator shutdown). Tokens of tasks still running are
   * left alone: their agents keep working across a coordinator restart and push with them; such a
   * token is not revoked later (this process forgets it) and expires within the hour.
   */
  async close(): Promise<void> {
    await Promise.all([...this.revoking]);
  }

  private track(revocation: Promise<void>, taskId: number): void {
    const p = revocation.catch((err: { status?: number; message?: string }) => {
      this.log.warn({ taskId, status: err.status, err: err.message }, 'could not revoke a push token (it expires within the hour)');
    });
    this.revoking.add(p);
    void p.finally(() => this.revoking.delete(p));
  }
}
