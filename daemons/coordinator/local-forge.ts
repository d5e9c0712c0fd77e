/**
 * The local forge of rehearsals: repositories are bare git repositories under
 * one directory on the coordinator's machine (agents reach them through
 * CCC_GIT_URL_TEMPLATE, e.g. file:///…/forge/{owner}/{repo}.git under `ccc up`);
 * pull requests are rows in SQLite, listed by GET /api/v1/forge/pulls.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CccError } from '../shared/errors.js';
import type { Db } from './db.js';
import type { Forge, NewPullRequest, StatusLabel } from './forge.js';
import type { PullRequestRef } from './task-model.js';

export interface ForgePullRequest {
  number: number;
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
  taskId: number | null;
  createdAt: string;
  url: string;
}

interface Row { number: number; repo: string; title: string; body: string; head: string; base: string; task_id: number | null; created_at: number }

export class LocalForge implements Forge {
  readonly name = 'local';
  /** The tracking comment and status label of each issue, as they would stand on GitHub. */
  readonly issues = new Map<string, { comment: string; label: StatusLabel | null }>();
  private nextComment = 1;

  constructor(
    private readonly db: Db,
    /** Directory holding <owner>/<repo>.git */
    readonly root: string,
    /** Base of the URLs given to pull requests (the coordinator's URL, known once it listens). */
    private readonly publicUrl: () => string,
  ) {}

  async upsertComment(repo: string, issue: number, body: string, commentId: number | null): Promise<number> {
    const key = `${repo}#${issue}`;
    this.issues.set(key, { label: this.issues.get(key)?.label ?? null, comment: body });
    return commentId ?? this.nextComment++;
  }

  async setStatusLabel(repo: string, issue: number, label: StatusLabel | null): Promise<void> {
    const key = `${repo}#${issue}`;
    this.issues.set(key, { comment: this.issues.get(key)?.comment ?? '', label });
  }

  async openPullRequest(pr: NewPullRequest): Promise<PullRequestRef> {
    const gitDir = join(this.root, `${pr.repo}.git`);
    try {
      execFileSync('git', ['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', `refs/heads/${pr.head}`], { stdio: 'ignore' });
    } catch {
      throw new CccError(`branch ${pr.head} is not in the local forge's ${pr.repo}; was it pushed?`, 'forge');
    }
    const { lastInsertRowid } = this.db.prepare('INSERT INTO forge_pull_requests (repo, title, body, head, base, task_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(pr.repo, pr.title, pr.body, pr.head, pr.base, pr.taskId, Date.now());
    const number = Number(lastInsertRowid);
    return { number, url: this.urlOf(number) };
  }

  pulls(): ForgePullRequest[] {
    return this.db.prepare<[], Row>('SELECT * FROM forge_pull_requests ORDER BY number DESC').all().map((r) => this.toPull(r));
  }

  pull(number: number): ForgePullRequest | undefined {
    const row = this.db.prepare<[number], Row>('SELECT * FROM forge_pull_requests WHERE number = ?').get(number);
    return row && this.toPull(row);
  }

  private toPull(r: Row): ForgePullRequest {
    return {
      number: r.number, repo: r.repo, title: r.title, body: r.body, head: r.head, base: r.base, taskId: r.task_id,
      createdAt: new Date(r.created_at).toISOString(), url: this.urlOf(r.number),
    };
  }

  private urlOf(number: number): string {
    return `${this.publicUrl()}/api/v1/forge/pulls/${number}`;
  }
}
