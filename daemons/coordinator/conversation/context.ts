/**
 * The conversation a task is given as context: the (or pull request's)
 * comments by allowed users, fetched through the forge's API, oldest first —
 * without the cluster's own tracking comments or the comment that asked for
 * the work. Fetching is bounded in time; a failure gives no context, logged.
 */
import type { Logger } from '../../shared/log.js';
import { MAX_COMMENT_CHARS, MAX_CONTEXT_COMMENTS, type ContextComment } from '../../shared/protocol.js';
import type { Forge } from '../forge.js';

/** GitHub expects a webhook answered within 10 s; the fetch gets half. */
export const CONTEXT_TIMEOUT_MS = 5000;
const TRACKING_PREFIX = '**claude-code-cluster**';

export interface ContextRequest {
  repo: string;
  number: number;
  allowedAssociations: readonly string[];
  /** The body of the comment that asked for the work (it is the request, not context). */
  exclude?: string;
}

export async function fetchContext(forge: Forge, req: ContextRequest, log: Logger, timeoutMs = CONTEXT_TIMEOUT_MS): Promise<ContextComment[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const comments = await Promise.race([forge.comments(req.repo, req.number), timeout]);
    return comments
      .filter((c) => req.allowedAssociations.includes(c.association))
      .filter((c) => !c.body.trimStart().startsWith(TRACKING_PREFIX) && c.body !== req.exclude)
      .slice(-MAX_CONTEXT_COMMENTS)
      .map((c) => ({ author: c.author, at: c.at, body: c.body.length > MAX_COMMENT_CHARS ? `${c.body.slice(0, MAX_COMMENT_CHARS - 20)}\n[… cut]` : c.body }));
  } catch (err) {
    log.warn({ repo: req.repo, number: req.number, err: (err as Error).message }, 'could not fetch the comments for context; the task runs without them');
    return [];
  } finally {
    clearTimeout(timer);
  }
}
