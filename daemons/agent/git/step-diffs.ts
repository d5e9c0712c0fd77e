/**
 * What the earlier steps of a plan changed, for the next step's prompt: each
 * step's commit as `git show --stat --patch`, read from the attempt's own git
 * dir (the commits are on the branch it continues), cut to a size a prompt can
 * carry. A commit that cannot be read is named, not fatal.
 */
import { git } from './run-git.js';

/** Per commit; a plan of eight steps stays under 200 KB of prompt. */
export const MAX_STEP_DIFF_BYTES = 24 * 1024;

export async function stepDiffs(gitDir: string, commits: readonly string[], env: Record<string, string>): Promise<Record<string, string>> {
  const diffs: Record<string, string> = {};
  for (const commit of commits) {
    if (!/^[0-9a-f]{7,64}$/.test(commit)) continue; // a commit id, never an option or a range
    try {
      const shown = await git(['--git-dir', gitDir, 'show', '--no-color', '--no-ext-diff', '--no-textconv', '--stat', '--patch', '--format=commit %H%n%s', commit], { env, timeoutMs: 30_000 });
      diffs[commit] = shown.length > MAX_STEP_DIFF_BYTES ? `${shown.slice(0, MAX_STEP_DIFF_BYTES)}\n[… cut at ${MAX_STEP_DIFF_BYTES} bytes: run \`git show ${commit.slice(0, 12)}\` for the rest]` : shown;
    } catch (err) {
      diffs[commit] = `(the diff of ${commit.slice(0, 12)} could not be read: ${(err as Error).message})`;
    }
  }
  return diffs;
}
