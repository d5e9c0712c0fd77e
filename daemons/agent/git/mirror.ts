/**
 * The cached bare clone of each repository (`<root>/mirrors/<owner>/<repo>.git`).
 * Tasks only borrow its objects (alternates); nothing of a task is ever written
 * here, and its config is rewritten by the agent before every fetch. Fetched
 * branches live under refs/remotes/origin/. Operations on one mirror are serialised.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeDir } from '../make-dir.js';
import { writeMirrorConfig } from './repository-config.js';
import { git } from './run-git.js';

export interface MirrorState {
  /** The remote's default branch (the pull request's base). */
  base: string;
  baseCommit: string;
  /** The head of `branch` on the remote, or null when the remote has no such branch. */
  branchHead: string | null;
}

export class Mirrors {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly env: Record<string, string>, private readonly onCreate: (mirror: string) => void = () => undefined) {}

  /** Fetches every branch (cloning first if needed); says where the base and `branch` stand on the remote. `env`: a task's own credential, else the agent's. */
  refresh(mirror: string, url: string, branch: string, env = this.env): Promise<MirrorState> {
    return this.locked(mirror, async () => {
      if (!existsSync(join(mirror, 'HEAD'))) {
        this.onCreate(mirror);
        makeDir(mirror);
        await git(['init', '--quiet', '--bare', '--template=', mirror], { env });
      }
      writeMirrorConfig(mirror, url);
      await git(['--git-dir', mirror, 'fetch', '--prune', '--quiet', '--no-write-fetch-head', 'origin'], { env });
      await git(['--git-dir', mirror, 'remote', 'set-head', 'origin', '--auto'], { env });
      const base = (await git(['--git-dir', mirror, 'symbolic-ref', '--short', 'refs/remotes/origin/HEAD'], { env })).trim().replace(/^origin\//, '');
      const baseCommit = await this.head(mirror, base);
      if (!baseCommit) throw new Error(`the remote's default branch ${base} has no commit`);
      return { base, baseCommit, branchHead: await this.head(mirror, branch) };
    });
  }

  /** Fetches one branch again (after a push was refused because the remote moved); its head, or null. */
  refetch(mirror: string, url: string, branch: string, env = this.env): Promise<string | null> {
    return this.locked(mirror, async () => {
      writeMirrorConfig(mirror, url);
      await git(['--git-dir', mirror, 'fetch', '--quiet', '--no-write-fetch-head', 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`], { env });
      return this.head(mirror, branch);
    });
  }

  private async head(mirror: string, branch: string): Promise<string | null> {
    const out = await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branch}^{commit}`], { env: this.env, okCodes: [1] });
    return out.trim() || null;
  }

  private async locked<T>(mirror: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(mirror) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    this.locks.set(mirror, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(mirror) === next) this.locks.delete(mirror);
    }
  }
}
