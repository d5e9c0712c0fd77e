/**
 * Where tasks work in repositories. Under the root:
 *   mirrors/<owner>/<repo>.git   a cached bare clone per repository (agent only)
 *   tasks/<task>-<attempt>/      the task directory: the files, and the model's own .git
 *   gitdirs/<task>-<attempt>.git the agent's private git dir for that directory
 * A task starts on `ccc/<issue>-<slug>` (or the branch it names) from the
 * remote's head of that branch when it exists, else from the default branch;
 * its commits are pushed without force. Every path is built from validated
 * names and checked to stay under the root; names reach git after `--` or as
 * refs that cannot start with "-".
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { CccError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { REPO_PATTERN } from '../../shared/names.js';
import { branchName, checkedBranch } from './branch-name.js';
import { Mirrors } from './mirror.js';
import { publish, type Published } from './publish.js';
import { createTaskRepositories } from './task-repositories.js';

import { stepDiffs } from './step-diffs.js';
export { branchName, slugify } from './branch-name.js';

export interface WorkspaceOptions {
  root: string;
  /** e.g. https://github.com/{owner}/{repo}.git */
  gitUrlTemplate: string;
  author: { name: string; email: string };
  /** PATH, HOME and the push credential settings (GIT_CONFIG_*), from gitEnv(). */
  gitEnv: Record<string, string>;
  keepFailedMs: number;
  log: Logger;
}

export interface WorkspaceRequest {
  taskId: number;
  attempt: number;
  repo: string;
  issueNumber: number | null;
  title: string;
  /** An existing branch to continue (a follow-up); it must exist on the remote. */
  branch?: string | null;
}

export interface Workspace {
  /** The task directory: the model's working directory. */
  dir: string;
  /** The agent's private git dir (outside `dir`). */
  gitDir: string;
  branch: string;
  base: string;
  mirror: string;
  url: string;
  /** The commit the task started from. */
  start: string;
  /** Whether the branch already existed on the remote (the task adds to it). */
  continued: boolean;
}

export class Workspaces {
  private readonly mirrors: Mirrors;
  /** Names (`<task>-<attempt>`) of workspaces in use: never swept. */
  private readonly active = new Set<string>();

  constructor(private readonly opts: WorkspaceOptions) {
    this.mirrors = new Mirrors(opts.gitEnv, () => opts.log.info({ root: opts.root }, 'caching a clone of a repository'));
  }

  /** The diffs of earlier plan steps' commits, read in the attempt's own repositories. */
  diffsOf(ws: Workspace, commits: readonly string[]): Promise<Record<string, string>> {
    return stepDiffs(ws.gitDir, commits, this.opts.gitEnv);
  }

  /** Fetches (or clones) the mirror, then makes this attempt's own repositories on the task's branch. */
  async prepare(task: WorkspaceRequest, gitEnv = this.opts.gitEnv): Promise<Workspace> {
    if (!REPO_PATTERN.test(task.repo)) throw new CccError(`repository name "${task.repo}" is not owner/name`, 'workspace');
    const [owner, name] = task.repo.split('/') as [string, string];
    const url = this.opts.gitUrlTemplate.replaceAll('{owner}', owner).replaceAll('{repo}', name);
    const mirror = this.inside('mirrors', owner, `${name}.git`);
    const key = `${task.taskId}-${task.attempt}`;
    const dir = this.inside('tasks', key);
    const gitDir = this.inside('gitdirs', `${key}.git`);
    const named = task.branch ? checkedBranch(task.branch) : null;
    const branch = named ?? branchName(task.issueNumber ?? task.taskId, task.title);
    this.active.add(key);
    try {
      const remote = await this.mirrors.refresh(mirror, url, branch, gitEnv);
      if (named === remote.base) throw new CccError(`branch ${named} is the default branch of ${task.repo}; a task works on a branch of its own and its changes arrive through a pull request`, 'workspace');
      if (named && !remote.branchHead) throw new CccError(`branch ${named} does not exist on the remote ${task.repo}; a follow-up continues an existing branch`, 'workspace');
      const start = remote.branchHead ?? remote.baseCommit;
      await createTaskRepositories({ dir, gitDir, mirror }, branch, start, gitEnv);
      return { dir, gitDir, branch, base: remote.base, mirror, url, start, continued: remote.branchHead !== null };
    } catch (err) {
      this.active.delete(key);
      throw err;
    }
  }

  /** Commits whatever changed and pushes the branch (fast-forward only); null when nothing changed. `gitEnv`: a task's own push credential. */
  async publish(ws: Workspace, message: string, gitEnv = this.opts.gitEnv): Promise<Published | null> {
    return publish(ws, message, this.opts.author, gitEnv, this.mirrors);
  }

  /** The task is over: its workspace may be swept once old enough (kept for inspection until then). */
  finish(ws: Workspace): void {
    this.active.delete(this.keyOf(ws));
  }

  /** Removes a workspace: its task directory and private git dir. */
  remove(ws: Workspace): void {
    this.finish(ws);
    rmSync(ws.dir, { recursive: true, force: true });
    rmSync(ws.gitDir, { recursive: true, force: true });
  }

  /** Deletes workspaces of finished tasks older than the policy allows (never one in use); returns how many. */
  sweep(now = Date.now()): number {
    let removed = 0;
    for (const [folder, suffix] of [['tasks', ''], ['gitdirs', '.git']] as const) {
      const parent = join(this.opts.root, folder);
      if (!existsSync(parent)) continue;
      for (const entry of readdirSync(parent)) {
        const key = entry.endsWith(suffix) ? entry.slice(0, entry.length - suffix.length) : entry;
        if (this.active.has(key)) continue;
        const path = join(parent, entry);
        let mtime;
        try { mtime = statSync(path).mtimeMs; } catch { continue; }
        if (now - mtime <= this.opts.keepFailedMs) continue;
        rmSync(path, { recursive: true, force: true });
        if (folder === 'tasks') removed++;
      }
    }
    return removed;
  }

  private keyOf(ws: Workspace): string {
    return ws.dir.slice(ws.dir.lastIndexOf(sep) + 1);
  }

  /** A path under the root, or an error: nothing derived from input may escape it. */
  private inside(...parts: string[]): string {
    const root = resolve(this.opts.root);
    const path = resolve(root, ...parts);
    if (!path.startsWith(root + sep)) throw new CccError(`refusing a workspace path outside ${root}`, 'workspace');
    return path;
  }
}
