/**
 * The local forge over the network: git's smart HTTP protocol at /git/<owner>/<repo>.git, served
 * by `git http-backend` (CGI) from the forge's bare repositories, so agents on other machines can
 * fetch and push. Authenticated with the agent's own credential as the HTTP Basic password (the
 * agents' git credential helper answers it); a push may change only the `ccc/*` branches of the
 * tasks that agent holds (identity/push-policy.ts). Only the smart protocol's three routes exist.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import { bearerToken } from '../shared/auth.js';
import type { Logger } from '../shared/log.js';
import { REPO_PATTERN } from '../shared/names.js';
import type { CredentialStore } from './identity/credential-store.js';
import { readPushedRefs, refusedRef, type Pushable } from './identity/push-policy.js';

export interface GitHttpOptions {
  /** Directory holding <owner>/<repo>.git (the local forge's root). */
  root: string;
  /** Agents' credentials: the password (any user name) or bearer token a client must present. */
  credentials: CredentialStore;
  /** Branch-name prefixes `agentId` may push to in `repo`. */
  pushableRefs: (agentId: string, repo: string) => Pushable;
  log: Logger;
}

const SERVICES = new Set(['git-upload-pack', 'git-receive-pack']);
/** /<owner>/<repo>.git/info/refs or /<owner>/<repo>.git/git-(upload|receive)-pack */
const ROUTE = /^\/([^/]+\/[^/]+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;

/** The token of `Authorization: Basic base64(user:token)` or `Bearer token`. */
export function presentedToken(header: string | undefined): string | undefined {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!basic) return bearerToken(header);
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

function plain(res: Response, status: number, text: string, headers: Record<string, string> = {}): void {
  res.status(status).set({ 'content-type': 'text/plain; charset=utf-8', ...headers }).send(`${text}\n`);
}

/** Which smart-HTTP request this is, or why it is refused. */
function route(req: Request): { repo: string; service: string } | { status: number; message: string } {
  const m = ROUTE.exec(req.path);
  if (!m || !REPO_PATTERN.test(m[1]!)) return { status: 404, message: 'not a git smart-HTTP route: /git/<owner>/<repo>.git/…' };
  const [, repo, action] = m as unknown as [string, string, string];
  if (action === 'info/refs') {
    const service = typeof req.query.service === 'string' ? req.query.service : '';
    if (req.method !== 'GET' || !SERVICES.has(service)) return { status: 403, message: 'only the smart protocol is served (info/refs?service=git-upload-pack|git-receive-pack)' };
    return { repo, service };
  }
  if (req.method !== 'POST') return { status: 405, message: `${action} takes POST` };
  return { repo, service: action };
}

export function gitHttp(opts: GitHttpOptions): RequestHandler {
  return (req, res) => {
    const token = presentedToken(req.headers.authorization);
    const agentId = token === undefined ? undefined : opts.credentials.agentOf(token);
    if (agentId === undefined) {
      plain(res, 401, 'the local forge needs an agent\'s own credential as the password', { 'www-authenticate': 'Basic realm="ccc local forge"' });
      return;
    }
    opts.credentials.touch(agentId);
    const r = route(req);
    if ('status' in r) {
      plain(res, r.status, r.message);
      return;
    }
    if (!existsSync(join(opts.root, `${r.repo}.git`, 'HEAD'))) {
      plain(res, 404, `no repository ${r.repo} in the local forge`);
      return;
    }
    if (r.service === 'git-receive-pack' && req.method === 'POST') {
      void guardPush(req, res, opts, agentId, r.repo);
      return;
    }
    runBackend(req, res, opts, r.service, agentId);
  };
}

/** Lets a push through only when every ref it changes is a branch of a task `agentId` holds in `repo`. */
async function guardPush(req: Request, res: Response, opts: GitHttpOptions, agentId: string, repo: string): Promise<void> {
  if (req.headers['content-encoding']) {
    plain(res, 415, 'the local forge takes pushes uncompressed');
    return;
  }
  let refs: string[];
  try {
    refs = await readPushedRefs(req);
  } catch (err) {
    plain(res, 400, `not a git push: ${(err as Error).message}`);
    return;
  }
  const allowed = opts.pushableRefs(agentId, repo);
  const refused = refusedRef(refs, allowed);
  if (refused !== undefined) {
    opts.log.warn({ agentId, repo, ref: refused, allowed }, 'push refused: not a branch of a task this agent holds');
    plain(res, 403, `agent ${agentId} may push only the ccc/* branches of its own tasks in ${repo}, not ${refused}`);
    return;
  }
  runBackend(req, res, opts, 'git-receive-pack', agentId);
}

/** Runs `git http-backend` as a CGI program: request body to stdin, its headers and body back. */
function runBackend(req: Request, res: Response, opts: GitHttpOptions, service: string, agentId: string): void {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: opts.root,
    GIT_HTTP_EXPORT_ALL: '1',
    REQUEST_METHOD: req.method,
    PATH_INFO: req.path,
    QUERY_STRING: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    // http-backend refuses receive-pack to anonymous users; the credential made this one known.
    REMOTE_USER: agentId,
    GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
  };
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  child.on('error', (err) => {
    opts.log.error({ err: err.message }, 'cannot run git http-backend (is git installed?)');
    if (!res.headersSent) plain(res, 500, 'git http-backend could not run');
  });
  child.on('close', (code) => {
    if (code !== 0) opts.log.warn({ code, service, path: req.path, stderr: stderr.trim() }, 'git http-backend failed');
    else opts.log.debug({ service, path: req.path }, 'git request served');
    if (!res.headersSent) plain(res, 502, 'git http-backend gave no answer');
    else res.end();
  });
  req.pipe(child.stdin);
  req.resume();
  child.stdin.on('error', () => undefined); // the backend may stop reading early (e.g. refusing a push)

  let head = Buffer.alloc(0);
  let inBody = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (inBody) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    inBody = true;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') res.status(Number.parseInt(value, 10) || 500);
      else res.setHeader(name, value);
    }
    res.flushHeaders();
    const rest = head.subarray(end + 4);
    if (rest.length) res.write(rest);
  });
}
