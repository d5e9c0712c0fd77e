/**
 * The web dashboard: `GET /` and its static files under `/dashboard/`, served
 * from the source tree (tsc does not copy them to dist/) with a strict
 * Content-Security-Policy. The page reads the API and the live stream with the
 * admin token it asks for; nothing here needs the token.
 */
import express, { type RequestHandler, type Router } from 'express';
import { join } from 'node:path';
import { packageRoot } from '../shared/package-root.js';

export const DASHBOARD_DIR = join(packageRoot, 'daemons', 'coordinator', 'dashboard');

/** Scripts, styles, images and API calls from this origin only; no inline code, no frames, no form posts. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    // Revalidate every time (ETag), so an upgraded coordinator never serves an old script.
    'cache-control': 'no-cache',
  });
  next();
};

/** `app.use(dashboardRouter())` before the 404 handler. */
export function dashboardRouter(dir = DASHBOARD_DIR): Router {
  const router = express.Router();
  router.get('/', securityHeaders, (_req, res, next) => {
    res.sendFile('index.html', { root: dir, cacheControl: false }, (err) => { if (err) next(err); });
  });
  // A local-forge pull request: the page reads it through the API with the token it asks for.
  router.get(/^\/pulls\/\d+\/?$/, securityHeaders, (_req, res, next) => {
    res.sendFile('pull.html', { root: dir, cacheControl: false }, (err) => { if (err) next(err); });
  });
  router.use('/dashboard', securityHeaders, express.static(dir, {
    index: false, redirect: false, dotfiles: 'ignore', fallthrough: true, cacheControl: false,
  }));
  return router;
}
