/**
 * Finds repositories the model made inside the task directory. `git add --all`
 * would record a directory holding a `.git` as a gitlink to a commit nobody can
 * fetch (or stop with "does not have a commit checked out"), and would look
 * into that repository to do so. The agent leaves such directories out of its
 * commit instead, and says which. The top-level `.git` is the model's own and
 * git never adds it; any other entry named `.git` in any letter case is left out too.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Paths (relative to `root`, "/"-separated) to leave out of the commit: directories holding a `.git`, and stray `.git` entries. */
export function nestedRepositories(root: string): string[] {
  const out: string[] = [];
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { continue; }
    const isRoot = dir === root;
    for (const e of entries) {
      if (e.name.toLowerCase() !== '.git') continue;
      if (isRoot && e.name === '.git') continue;
      out.push(relative(root, e.name === '.git' ? dir : join(dir, e.name)));
    }
    if (!isRoot && entries.some((e) => e.name === '.git')) continue; // the whole directory is left out
    for (const e of entries) if (e.isDirectory() && !(isRoot && e.name === '.git') && e.name.toLowerCase() !== '.git') stack.push(join(dir, e.name));
  }
  return [...new Set(out)].sort();
}
