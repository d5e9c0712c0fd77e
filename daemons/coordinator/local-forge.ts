/**
 * The local forge of rehearsals: repositories are bare git repositories under
 * one directory on the coordinator's machine (agents reach them through
 * CCC_GIT_URL_TEMPLATE, e.g. file:///…/forge/{owner}/{repo}.git under `ccc up`);
 * pull requests and their comments are rows in SQLite, served under
 * /api/v1/forge/pulls and shown by the dashboard at /pulls/<n>.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CccError } from '../shared/errors.js';
import type { Db } from './db.js';
import type { Forge, ForgeComment, NewPullRequest, StatusLabel } from './forge.js';
import type { PullRequestRef } from './task-model.js';

/** Who writes the tracking comments on the local forge's pull requests. */
export const CLUSTER_AUTHOR = 'claude-code-cluster';

export interface ForgePullRequest {
  number: number;
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
  taskId: number | null;
  draft: boolean;
  state: string;
  /** The ccc status label the pull request's conversation carries (follow-ups), if any. */
  label: StatusLabel | null;
  createdAt: string;
  url: string;
}

export interface ForgePullComment { id: number; author: string; body: string; createdAt: string; updatedAt: string }

interface Row { number: number; repo: string; title: string; body: string; head: string; base: string; task_id: number | null; draft: number; state: string; created_at: number }
interface CommentRow { id: number; author: string; body: string; created_at: number; updated_at: number }

export class LocalForge implements Forge {
  readonly name = 'local';
  /** The tracking comment and status label of each issue, as they would stand on GitHub. */
  readonly issues = new Map<string, { comment: string; label: StatusLabel | null }>();
  private readonly pullLabels = new Map<number, StatusLabel | null>();
  private nextComment = 1;

  constructor(
    private readonly db: Db,
    /** Directory holding <owner>/<repo>.git */
    readonly root: string,
    /** Base of the URLs given to pull requests (the coordinator's URL, known once it listens). */
    private readonly publicUrl: () => string,
  ) {}

  async upsertComment(repo: string, issue: number, body: string, commentId: number | null, onPullRequest = false): Promise<number> {
    if (onPullRequest && this.pull(issue)?.repo === repo) {
      const now = Date.now();
      if (commentId && this.db.prepare('UPDATE forge_pull_comments SET body = ?, updated_at = ? WHERE id = ? AND number = ?').run(body, now, commentId, issue).changes) return commentId;
      return this.addComment(issue, CLUSTER_AUTHOR, body).id;
    }
    const key = `${repo}#${issue}`;
    this.issues.set(key, { label: this.issues.get(key)?.label ?? null, comment: body });
    return commentId ?? this.nextComment++;
  }

  async setStatusLabel(repo: string, issue: number, label: StatusLabel | null, onPullRequest = false): Promise<void> {
    if (onPullRequest && this.pull(issue)?.repo === repo) {
      this.pullLabels.set(issue, label);
      return;
    }
    const key = `${repo}#${issue}`;
    this.issues.set(key, { comment: this.issues.get(key)?.comment ?? '', label });
  }

  async openPullRequest(pr: NewPullRequest): Promise<PullRequestRef> {
    if (!this.hasBranch(pr.repo, pr.head)) throw new CccError(`branch ${pr.head} is not in the local forge's ${pr.repo}; was it pushed?`, 'forge');
    const { lastInsertRowid } = this.db.prepare('INSERT INTO forge_pull_requests (repo, title, body, head, base, task_id, draft, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(pr.repo, pr.title, pr.body, pr.head, pr.base, pr.taskId, pr.draft ? 1 : 0, Date.now());
    const number = Number(lastInsertRowid);
    return { number, url: this.urlOf(number) };
  }

  async updatePullRequestBody(repo: string, number: number, body: string): Promise<void> {
    this.db.prepare('UPDATE forge_pull_requests SET body = ? WHERE repo = ? AND number = ?').run(body, repo, number);
  }

  async findOpenPullRequest(repo: string, head: string): Promise<PullRequestRef | undefined> {
    const row = this.db.prepare<[string, string], { number: number }>("SELECT number FROM forge_pull_requests WHERE repo = ? AND head = ? AND state = 'open' ORDER BY number DESC LIMIT 1").get(repo, head);
    return row && { number: row.number, url: this.urlOf(row.number) };
  }

  /** A pull request's conversation; issues of the local forge have none. */
  async comments(repo: string, issue: number): Promise<ForgeComment[]> {
    if (this.pull(issue)?.repo !== repo) return [];
    return this.pullComments(issue).map((c) => ({ author: c.author, association: c.author === CLUSTER_AUTHOR ? 'NONE' : 'OWNER', body: c.body, at: c.createdAt }));
  }

  addComment(number: number, author: string, body: string): ForgePullComment {
    const now = Date.now();
    const { lastInsertRowid } = this.db.prepare('INSERT INTO forge_pull_comments (number, author, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(number, author, body, now, now);
    return { id: Number(lastInsertRowid), author, body, createdAt: new Date(now).toISOString(), updatedAt: new Date(now).toISOString() };
  }

  pullComments(number: number): ForgePullComment[] {
    return this.db.prepare<[number], CommentRow>('SELECT * FROM forge_pull_comments WHERE number = ? ORDER BY id').all(number)
      .map((c) => ({ id: c.id, author: c.author, body: c.body, createdAt: new Date(c.created_at).toISOString(), updatedAt: new Date(c.updated_at).toISOString() }));
  }

  /** A follow-up finished the work of a draft: the pull request is ready for review. */
  async markReady(repo: string, number: number): Promise<void> {
    this.db.prepare('UPDATE forge_pull_requests SET draft = 0 WHERE repo = ? AND number = ?').run(repo, number);
  }

  pulls(): ForgePullRequest[] {
    return this.db.prepare<[], Row>('SELECT * FROM forge_pull_requests ORDER BY number DESC').all().map((r) => this.toPull(r));
  }

  pull(number: number): ForgePullRequest | undefined {
    const row = this.db.prepare<[number], Row>('SELECT * FROM forge_pull_requests WHERE number = ?').get(number);
    return row && this.toPull(row);
  }

  gitDir(repo: string): string {
    return join(this.root, `${repo}.git`);
  }

  private hasBranch(repo: string, branch: string): boolean {
    try {
      execFileSync('git', ['--git-dir', this.gitDir(repo), 'rev-parse', '--verify', '--quiet', '--end-of-options', `refs/heads/${branch}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  private toPull(r: Row): ForgePullRequest {
    return {
      number: r.number, repo: r.repo, title: r.title, body: r.body, head: r.head, base: r.base, taskId: r.task_id,
      draft: r.draft === 1, state: r.state, label: this.pullLabels.get(r.number) ?? null,
      createdAt: new Date(r.created_at).toISOString(), url: this.urlOf(r.number),
    };
  }

  /** The dashboard's own view of the pull request: it opens in a browser without the admin API's token prompt. */
  private urlOf(number: number): string {
    return `${this.publicUrl()}/pulls/${number}`;
  }
}
