/**
 * Commits what the task directory holds, through the agent's private git dir,
 * and pushes the branch without force: a push only ever adds commits. When the
 * remote branch moved meanwhile (a reviewer's commit), the agent fetches it,
 * merges it with its own commit (in memory, `merge-tree --write-tree`, no work
 * tree touched) and pushes once more; a conflict fails with a clear message.
 */
import { CccError } from '../../shared/errors.js';
import type { Mirrors } from './mirror.js';
import { nestedRepositories } from './nested-repositories.js';
import { writeTaskConfig } from './repository-config.js';
import { git, GitError } from './run-git.js';
import { agentGit, type TaskRepositories } from './task-repositories.js';

export interface PublishTarget extends TaskRepositories {
  branch: string;
  url: string;
}

export interface Published {
  commit: string;
  /** Directories left out of the commit because they hold a repository of their own. */
  leftOut: string[];
}

const REFUSED = /\[rejected\]|non-fast-forward|fetch first|failed to push some refs/i;

/** Commits and pushes; null when nothing changed. */
export async function publish(ws: PublishTarget, message: string, author: { name: string; email: string }, env: Record<string, string>, mirrors: Mirrors): Promise<Published | null> {
  writeTaskConfig(ws.gitDir, ws.mirror);
  const own = agentGit(ws);
  const leftOut = nestedRepositories(ws.dir);
  const excludes = leftOut.map((p) => `:(exclude,literal)${p}`);
  await git([...own, 'add', '--all', '--', '.', ...excludes], { env });
  if (!(await git([...own, 'diff', '--cached', '--name-only', '-z'], { env })).length) return null;
  const who = ['-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`];
  // An argument cannot hold a NUL byte (nor can a commit message); an issue title may.
  await git([...own, ...who, 'commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', message.replaceAll('\0', '')], { env });
  let commit = (await git([...own, 'rev-parse', 'HEAD'], { env })).trim();
  try {
    await push(ws, commit, env);
  } catch (err) {
    if (!(err instanceof GitError) || !REFUSED.test(err.detail)) throw err;
    const theirs = await mirrors.refetch(ws.mirror, ws.url, ws.branch, env);
    if (!theirs) throw err;
    commit = await mergeWith(ws, commit, theirs, who, env);
    try {
      await push(ws, commit, env);
    } catch (again) {
      throw new CccError(`the branch ${ws.branch} moved on the remote twice while this task pushed; nothing was overwritten (the work is commit ${commit.slice(0, 12)} in the kept workspace): ${(again as Error).message}`, 'git');
    }
  }
  return { commit, leftOut };
}

function push(ws: PublishTarget, commit: string, env: Record<string, string>): Promise<string> {
  // An explicit refspec and no --force: the remote accepts only a fast-forward.
  return git(['--git-dir', ws.gitDir, 'push', '--quiet', '--no-verify', '--', ws.url, `${commit}:refs/heads/${ws.branch}`], { env });
}

/** A merge commit of `ours` and the remote's new head `theirs`, made without touching the task directory. */
async function mergeWith(ws: PublishTarget, ours: string, theirs: string, who: string[], env: Record<string, string>): Promise<string> {
  const own = ['--git-dir', ws.gitDir];
  const out = await git([...own, 'merge-tree', '--write-tree', '--name-only', '--no-messages', ours, theirs], { env, okCodes: [1] });
  const [tree, ...conflicts] = out.split('\n').filter(Boolean);
  if (conflicts.length) {
    throw new CccError(`the branch ${ws.branch} moved on the remote (someone pushed) and their change conflicts with the work of this task in ${conflicts.slice(0, 5).join(', ')}; nothing was overwritten, the work is commit ${ours.slice(0, 12)} in the kept workspace`, 'git');
  }
  const merge = (await git([...own, ...who, 'commit-tree', tree!, '-p', ours, '-p', theirs, '-m', `Merge the remote ${ws.branch} into the agent's work`], { env })).trim();
  await git([...own, 'update-ref', `refs/heads/${ws.branch}`, merge], { env });
  return merge;
}
