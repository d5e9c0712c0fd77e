/**
 * The local forge's pull requests under /api/v1/forge/pulls (behind the admin
 * token): list, one with its commits, diff and conversation, and comments —
 * a comment starting with `/ccc` acts as it would on GitHub (a follow-up on
 * the branch, `/ccc cancel`, `/ccc retry`), so the whole conversation can be
 * rehearsed without GitHub.
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../../shared/log.js';
import { HttpError } from '../http-error.js';
import type { LocalForge } from '../local-forge.js';
import type { Scheduler } from '../scheduler.js';
import type { TaskStore } from '../task-store.js';
import { fetchContext } from './context.js';
import { cancelOpen, createFollowUp, retryLatest, type Continued } from './follow-ups.js';
import { findCommand, pullComment } from './pull-request-events.js';
import { pullDiff } from './pull-diff.js';

const numberSchema = z.coerce.number().int().positive();
const commentSchema = z.strictObject({
  body: z.string().trim().min(1, 'is required').max(65_536),
  author: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,38}$/, 'must be a user name (letters, digits, ".", "_", "-")').default('operator'),
});

export interface ForgePullsDeps {
  store: TaskStore;
  scheduler: Scheduler;
  localForge: LocalForge;
  log: Logger;
}

export function forgePullsRouter({ store, scheduler, localForge: forge, log }: ForgePullsDeps): Router {
  const router = express.Router();
  const pullOf = (raw: unknown) => {
    const n = numberSchema.safeParse(raw);
    if (!n.success) throw new HttpError(400, 'invalid_request', `a pull request number is a positive whole number (got "${String(raw)}")`);
    const pr = forge.pull(n.data);
    if (!pr) throw new HttpError(404, 'not_found', `the local forge has no pull request ${n.data}; \`ccc pulls\` lists them`);
    return pr;
  };

  router.get('/', (_req, res) => {
    res.json({ pulls: forge.pulls() });
  });

  router.get('/:number', async (req, res) => {
    const pr = pullOf(req.params.number);
    const tasks = store.list({ limit: 5000 }).filter((t) => t.repo === pr.repo && t.pullRequest?.number === pr.number).map((t) => ({ id: t.id, state: t.state, title: t.title, agentId: t.agentId }));
    let changes;
    try {
      changes = await pullDiff(forge.gitDir(pr.repo), pr.base, pr.head);
    } catch (err) {
      changes = { commits: [], diff: '', truncated: false, error: `cannot read the diff: ${(err as Error).message.split('\n')[0]}` };
    }
    res.json({ pull: { ...pr, ...changes, comments: forge.pullComments(pr.number), tasks } });
  });

  router.post('/:number/comments', async (req, res) => {
    const pr = pullOf(req.params.number);
    const parsed = commentSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw HttpError.fromZod(parsed.error, 'comment');
    const { body, author } = parsed.data;
    // As on GitHub, a comment is a command when it starts with /ccc.
    const command = body.startsWith('/ccc') ? findCommand(body) : undefined;
    // Read before the comment is stored, so the request is not its own context.
    const context = command === undefined ? [] : await fetchContext(forge, { repo: pr.repo, number: pr.number, allowedAssociations: ['OWNER'] }, log);
    const comment = forge.addComment(pr.number, author, body);
    if (command === undefined) {
      res.status(201).json({ comment, outcome: 'comment' });
      return;
    }
    const intent = pullComment(pr.repo, pr.number, author, body, command);
    let done: Continued;
    if (intent.kind === 'cancel') {
      const cancelled = cancelOpen(store, { ...intent, by: `${author} on the local forge` });
      if ('reason' in cancelled) done = { outcome: 'ignored', reason: cancelled.reason };
      else {
        if (cancelled.revoked) scheduler.revoke(cancelled.revoked, `cancelled by ${author}`);
        done = { outcome: 'task-exists', task: cancelled.task };
      }
    } else if (intent.kind === 'retry') {
      done = retryLatest(store, { ...intent, by: `${author} on the local forge` });
    } else if (intent.kind === 'follow-up') {
      done = createFollowUp(store, { repo: pr.repo, pull: pr.number, followUp: intent.followUp, context });
    } else {
      done = { outcome: 'ignored', reason: intent.kind === 'ignore' ? intent.reason : 'not understood' };
    }
    if ('created' in done) scheduler.schedule();
    log.info({ pull: pr.number, author, command, outcome: done.outcome, taskId: 'task' in done ? done.task.id : undefined }, 'local forge comment');
    const outcome = intent.kind === 'cancel' && done.outcome !== 'ignored' ? 'task-cancelled' : done.outcome;
    res.status(201).json({ comment, outcome, ...('task' in done ? { task: done.task } : { reason: done.reason }) });
  });
  return router;
}
