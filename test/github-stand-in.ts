/** A local stand-in for the few GitHub REST routes the coordinator uses (Octokit reaches it through baseUrl). */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './helpers.js';
import { addAppRoutes, type makeStandInApp } from './github-app-routes.js';

export interface Call { method: string; path: string; body: any; auth: string | undefined }

/** Speaks the few REST routes the publisher uses, and records every call. */
export async function githubStandIn(opts: { failFirstPull?: boolean; app?: ReturnType<typeof makeStandInApp>; gitRoot?: string } = {}) {
  const calls: Call[] = [];
  const comments = new Map<number, string>();
  let failPull = opts.failFirstPull ?? false;
  const app = express();
  app.use(express.json());
  app.use((req, _res, next) => { calls.push({ method: req.method, path: req.path, body: req.body, auth: req.headers.authorization }); next(); });
  if (opts.app) addAppRoutes(app, opts.app, opts.gitRoot);
  app.post('/repos/:owner/:repo/issues/:n/comments', (req, res) => {
    const id = 1000 + comments.size;
    comments.set(id, req.body.body);
    res.status(201).json({ id, body: req.body.body });
  });
  app.patch('/repos/:owner/:repo/issues/comments/:id', (req, res) => {
    comments.set(Number(req.params.id), req.body.body);
    res.json({ id: Number(req.params.id), body: req.body.body });
  });
  app.post('/repos/:owner/:repo/issues/:n/labels', (req, res) => { res.json(req.body.labels.map((name: string) => ({ name }))); });
  app.delete('/repos/:owner/:repo/issues/:n/labels/:name', (_req, res) => { res.status(404).json({ message: 'Label does not exist' }); });
  app.post('/repos/:owner/:repo/pulls', (req, res) => {
    if (failPull) {
      failPull = false;
      res.status(502).json({ message: 'Server Error' });
      return;
    }
    res.status(201).json({ number: 7, html_url: `https://github.example/${req.params.owner}/${req.params.repo}/pull/7`, ...req.body });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  onCleanup(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, comments };
}

