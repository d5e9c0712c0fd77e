/**
 * The two repositories of one task attempt, both borrowing objects from the
 * mirror (alternates) and never shared with another task:
 * - the agent's private git dir, `<root>/gitdirs/<task>-<attempt>.git`, outside
 *   the task directory, where the agent commits and from which it pushes;
 * - the model's `.git` inside the task directory, for its own `git status` or
 *   `git diff`. The model may change anything in it; the agent never reads it.
 * Both start on the task's branch at the same commit, with the files checked out once.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeDir } from '../make-dir.js';
import { writeTaskConfig } from './repository-config.js';
import { git } from './run-git.js';

export interface TaskRepositories {
  /** The task directory (the model's working directory). */
  dir: string;
  /** The agent's private git dir for it. */
  gitDir: string;
  mirror: string;
}

/** Arguments that point git at the private git dir and the task directory, so git discovers nothing. */
export function agentGit(repos: Pick<TaskRepositories, 'dir' | 'gitDir'>): string[] {
  return ['--git-dir', repos.gitDir, '--work-tree', repos.dir];
}

/** Makes both repositories afresh on `branch` at `start` and checks the files out into `dir`. */
export async function createTaskRepositories(repos: TaskRepositories, branch: string, start: string, env: Record<string, string>): Promise<void> {
  const { dir, gitDir, mirror } = repos;
  rmSync(dir, { recursive: true, force: true });
  rmSync(gitDir, { recursive: true, force: true });
  makeDir(dir);
  makeDir(gitDir);
  const own = [...agentGit(repos)];
  await git(['init', '--quiet', '--bare', '--template=', gitDir], { env });
  writeTaskConfig(gitDir, mirror);
  await git([...own, 'update-ref', `refs/heads/${branch}`, start], { env });
  await git([...own, 'symbolic-ref', 'HEAD', `refs/heads/${branch}`], { env });
  await git([...own, 'read-tree', '-u', '--reset', 'HEAD'], { env });

  const model = join(dir, '.git');
  const theirs = ['--git-dir', model, '--work-tree', dir];
  await git(['init', '--quiet', '--template=', dir], { env });
  writeTaskConfig(model, mirror);
  await git([...theirs, 'update-ref', `refs/heads/${branch}`, start], { env });
  await git([...theirs, 'symbolic-ref', 'HEAD', `refs/heads/${branch}`], { env });
  await git([...theirs, 'read-tree', 'HEAD'], { env });
  await git([...theirs, 'update-index', '-q', '--refresh'], { env, okCodes: [1] });
}
