/**
 * Which workspace failures another attempt cannot fix: a bad name, a
 * repository or branch that does not exist, a refused credential, a merge
 * conflict. Those fail at once (retryable: false); a network hiccup is retried.
 */
import { CccError } from '../../shared/errors.js';

const PERMANENT = [
  /does not appear to be a git repository/i,
  /repository '.*' not found|Repository not found/i,
  /Authentication failed|could not read Username|HTTP 40[13]|returned error: 40[134]/i,
  /Permission to .* denied|permission denied \(publickey\)/i,
  /is not a plain branch name|does not exist on the remote|is the default branch of/i,
  /not owner\/name|refusing a workspace path/i,
  /conflicts with the work/i,
];

export function isPermanent(err: unknown): boolean {
  if (!(err instanceof CccError)) return false;
  const text = `${err.message}\n${(err as { detail?: string }).detail ?? ''}`;
  return PERMANENT.some((p) => p.test(text));
}
