/**
 * Per repository a cached bare clone, per task a git worktree on its own branch
 * `ccc/<issue>-<slug>`. Every path is built from validated names and checked
 * to stay under the root; every git call passes names after `--` or as refs
 * that cannot start with "-", so nothing from an issue can become a git option.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { CccError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { REPO_PATTERN } from '../shared/names.js';
import { git } from './git.js';
import { makeDir } from './make-dir.js';

export interface WorkspaceOptions {
  root: string;
  /** e.g. https://github.com/{owner}/{repo}.git */
  gitUrlTemplate: string;
  author: { name: string; email: string };
  /** PATH, HOME and the push credential settings (GIT_CONFIG_*). */
  gitEnv: Record<string, string>;
  keepFailedMs: number;
  log: Logger;
}

export interface Workspace {
  dir: string;
  branch: string;
  base: string;
  mirror: string;
  url: string;
}

/** `Add a /health endpoint!` → `add-a-health-endpoint` (at most 40 characters, never empty). */
export function slugify(title: string): string {
  const slug = title.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return slug || 'task';
}

export function branchName(issueOrTask: number, title: string): string {
  return `ccc/${issueOrTask}-${slugify(title)}`;
}

export class Workspaces {
  private readonly mirrorLocks = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: WorkspaceOptions) {}

  /** Fetches (or clones) the mirror, then adds a worktree for this attempt on the task's branch. */
  async prepare(task: { taskId: number; attempt: number; repo: string; issueNumber: number | null; title: string }, gitEnv?: Record<string, string>): Promise<Workspace> {
    if (!REPO_PATTERN.test(task.repo)) throw new CccError(`repository name "${task.repo}" is not owner/name`, 'workspace');
    const [owner, name] = task.repo.split('/') as [string, string];
    const url = this.opts.gitUrlTemplate.replaceAll('{owner}', owner).replaceAll('{repo}', name);
    const mirror = this.inside('mirrors', owner, `${name}.git`);
    const dir = this.inside('tasks', `${task.taskId}-${task.attempt}`);
    const branch = branchName(task.issueNumber ?? task.taskId, task.title);
    const env = gitEnv ?? this.opts.gitEnv; // a task's own (its push token), else the agent's
    const base = await this.withMirror(mirror, async () => {
      if (!existsSync(join(mirror, 'HEAD'))) {
        // A bare repository whose remote branches live under refs/remotes/origin/, so fetching
        // never touches the local refs/heads/ccc/* branches that running tasks work on.
        this.opts.log.info({ repo: task.repo }, 'caching a clone of the repository');
        makeDir(mirror);
        await git(['init', '--quiet', '--bare', mirror], { env });
        await git(['--git-dir', mirror, 'config', 'remote.origin.url', url], { env });
        await git(['--git-dir', mirror, 'config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'], { env });
      }
      await git(['--git-dir', mirror, 'fetch', '--prune', '--quiet', 'origin'], { env });
      await git(['--git-dir', mirror, 'remote', 'set-head', 'origin', '--auto'], { env });
      await git(['--git-dir', mirror, 'worktree', 'prune'], { env });
      rmSync(dir, { recursive: true, force: true });
      await this.releaseEarlierAttempts(task.taskId, env);
      const base = (await git(['--git-dir', mirror, 'symbolic-ref', '--short', 'refs/remotes/origin/HEAD'], { env })).trim().replace(/^origin\//, '');
      await git(['--git-dir', mirror, 'worktree', 'add', '--quiet', '-B', branch, dir, `refs/remotes/origin/${base}`], { env });
      return base;
    });
    return { dir, branch, base, mirror, url };
  }

  /** Commits whatever changed and pushes the branch; returns the commit, or null when nothing changed. */
  async publish(ws: Workspace, message: string, gitEnv?: Record<string, string>): Promise<string | null> {
    const env = gitEnv ?? this.opts.gitEnv;
    await git(['add', '--all'], { cwd: ws.dir, env });
    if (!(await git(['status', '--porcelain'], { cwd: ws.dir, env })).trim()) return null;
    const { name, email } = this.opts.author;
    // An argument cannot hold a NUL byte (nor can a commit message); an issue title may.
    await git(['-c', `user.name=${name}`, '-c', `user.email=${email}`, 'commit', '--quiet', '--no-verify', '-m', message.replaceAll('\0', '')], { cwd: ws.dir, env });
    const commit = (await git(['rev-parse', 'HEAD'], { cwd: ws.dir, env })).trim();
    // An explicit refspec: a mirror's own `push` would push every ref.
    await git(['push', '--quiet', '--force', '--', ws.url, `refs/heads/${ws.branch}:refs/heads/${ws.branch}`], { cwd: ws.dir, env });
    return commit;
  }

  /** Removes a worktree (and its branch in the mirror). */
  async remove(ws: Workspace): Promise<void> {
    const env = this.opts.gitEnv;
    await this.withMirror(ws.mirror, async () => {
      await git(['--git-dir', ws.mirror, 'worktree', 'remove', '--force', ws.dir], { env }).catch(() => rmSync(ws.dir, { recursive: true, force: true }));
      await git(['--git-dir', ws.mirror, 'branch', '-D', '--', ws.branch], { env }).catch(() => undefined);
    });
  }

  /** A kept worktree of an earlier attempt lets go of the branch (detached HEAD, files untouched) so the retry can take it. */
  private async releaseEarlierAttempts(taskId: number, env: Record<string, string>): Promise<void> {
    const tasks = join(this.opts.root, 'tasks');
    if (!existsSync(tasks)) return;
    for (const entry of readdirSync(tasks).filter((e) => e.startsWith(`${taskId}-`))) {
      await git(['checkout', '--quiet', '--detach'], { cwd: join(tasks, entry), env }).catch(() => undefined);
    }
  }

  /** Deletes kept (failed) worktrees older than the policy allows; returns how many. */
  sweep(now = Date.now()): number {
    const tasks = join(this.opts.root, 'tasks');
    if (!existsSync(tasks)) return 0;
    let removed = 0;
    for (const entry of readdirSync(tasks)) {
      const dir = join(tasks, entry);
      if (now - statSync(dir).mtimeMs > this.opts.keepFailedMs) {
        rmSync(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  /** A path under the root, or an error: nothing derived from input may escape it. */
  private inside(...parts: string[]): string {
    const root = resolve(this.opts.root);
    const path = resolve(root, ...parts);
    if (!path.startsWith(root + sep)) throw new CccError(`refusing a workspace path outside ${root}`, 'workspace');
    return path;
  }

  /** Serialises git operations on one mirror (fetch and worktree changes lock it). */
  private async withMirror<T>(mirror: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.mirrorLocks.get(mirror) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    this.mirrorLocks.set(mirror, next);
    try {
      return await next;
    } finally {
      if (this.mirrorLocks.get(mirror) === next) this.mirrorLocks.delete(mirror);
    }
  }
}
