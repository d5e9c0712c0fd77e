/** The branch a task works on: `ccc/<issue>-<slug>`, or a branch the task names (a follow-up). */
import { CccError } from '../../shared/errors.js';

/** `Add a /health endpoint!` → `add-a-health-endpoint` (at most 40 characters, never empty). */
export function slugify(title: string): string {
  const slug = title.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return slug || 'task';
}

export function branchName(issueOrTask: number, title: string): string {
  return `ccc/${issueOrTask}-${slugify(title)}`;
}

/**
 * A branch name given from outside (TaskSpec.branch), checked before git sees it:
 * the rules of `git check-ref-format --branch`, and never an option.
 */
export function checkedBranch(name: string): string {
  const ok = /^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$/.test(name)
    && !/(^|\/)\.|\.\.|\/\/|\/$|\.lock(\/|$)|\.$/.test(name)
    && name !== 'HEAD';
  if (!ok) throw new CccError(`branch "${name}" is not a plain branch name (letters, digits, ".", "_", "-", "/"); name an existing branch of the repository`, 'workspace');
  return name;
}
