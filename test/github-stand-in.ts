/** A local stand-in for the few GitHub REST routes the coordinator uses (Octokit reaches it through baseUrl). */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './helpers.js';
import { addAppRoutes, type makeStandInApp } from './github-app-routes.js';

export interface Call { method: string; path: string; body: any; auth: string | undefined; query?: any }
export interface StandInComment { id: number; issue: number; body: string; user: { login: string }; author_association: string; created_at: string }
export interface StandInPull { number: number; head: string; base: string; title: string; body: string; draft: boolean; state: 'open' | 'closed'; html_url: string }

/** Speaks the few REST routes the coordinator uses (comments, labels, pull requests, and the App's), and records every call. */
export async function githubStandIn(opts: { failFirstPull?: boolean; failPulls?: boolean; delayMs?: number; app?: ReturnType<typeof makeStandInApp>; gitRoot?: string } = {}) {
  const calls: Call[] = [];
  /** The tracking comments the cluster wrote, by id. */
  const comments = new Map<number, string>();
  /** Every comment of every issue (seeded by tests and written by the cluster), in order. */
  const thread: StandInComment[] = [];
  const pulls: StandInPull[] = [];
  let nextComment = 1000;
  let failPull = opts.failFirstPull ?? false;
  const app = express();
  app.use(express.json());
  app.use((req, _res, next) => {
    calls.push({ method: req.method, path: req.path, body: req.body, auth: req.headers.authorization, query: req.query });
    if (opts.delayMs) setTimeout(next, Math.random() * opts.delayMs);
    else next();
  });
  if (opts.app) addAppRoutes(app, opts.app, opts.gitRoot);
  app.get('/repos/:owner/:repo/issues/:n/comments', (req, res) => {
    res.json(thread.filter((c) => c.issue === Number(req.params.n)).map((c) => ({ ...c, id: c.id })));
  });
  app.post('/repos/:owner/:repo/issues/:n/comments', (req, res) => {
    const id = nextComment++;
    comments.set(id, req.body.body);
    thread.push({ id, issue: Number(req.params.n), body: req.body.body, user: { login: 'ccc-bot' }, author_association: 'OWNER', created_at: new Date().toISOString() });
    res.status(201).json({ id, body: req.body.body });
  });
  app.patch('/repos/:owner/:repo/issues/comments/:id', (req, res) => {
    const id = Number(req.params.id);
    comments.set(id, req.body.body);
    const c = thread.find((t) => t.id === id);
    if (c) c.body = req.body.body;
    res.json({ id, body: req.body.body });
  });
  app.post('/repos/:owner/:repo/issues/:n/labels', (req, res) => { res.json(req.body.labels.map((name: string) => ({ name }))); });
  app.delete('/repos/:owner/:repo/issues/:n/labels/:name', (_req, res) => { res.status(404).json({ message: 'Label does not exist' }); });
  app.get('/repos/:owner/:repo/pulls', (req, res) => {
    const head = String(req.query.head ?? '').replace(/^[^:]*:/, '');
    res.json(pulls.filter((p) => p.state === (req.query.state ?? 'open') && (!head || p.head === head)));
  });
  app.post('/repos/:owner/:repo/pulls', (req, res) => {
    if (failPull || opts.failPulls) {
      failPull = false;
      res.status(502).json({ message: 'Server Error' });
      return;
    }
    if (pulls.some((p) => p.state === 'open' && p.head === req.body.head)) {
      res.status(422).json({ message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${req.params.owner}:${req.body.head}.` }] });
      return;
    }
    const number = 7 + pulls.length;
    const pr: StandInPull = { number, head: req.body.head, base: req.body.base, title: req.body.title, body: req.body.body, draft: Boolean(req.body.draft), state: 'open', html_url: `https://github.example/${req.params.owner}/${req.params.repo}/pull/${number}` };
    pulls.push(pr);
    res.status(201).json(pr);
  });
  app.patch('/repos/:owner/:repo/pulls/:n', (req, res) => {
    const pr = pulls.find((p) => p.number === Number(req.params.n));
    if (!pr) { res.status(404).json({ message: 'Not Found' }); return; }
    if (typeof req.body.body === 'string') pr.body = req.body.body;
    res.json(pr);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  onCleanup(() => new Promise<void>((r) => server.close(() => r())));
  /** Adds a comment as a user would write it on GitHub. */
  const addComment = (issue: number, login: string, body: string, association = 'OWNER') => {
    thread.push({ id: nextComment++, issue, body, user: { login }, author_association: association, created_at: new Date().toISOString() });
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, comments, thread, pulls, addComment };
}
