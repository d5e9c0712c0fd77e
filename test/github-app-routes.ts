/**
 * The GitHub App part of the GitHub stand-in: JWTs checked with the App's public key, installation
 * tokens with their repositories and permissions, revocation, and git smart HTTP that takes only a
 * live installation token allowed to write that repository. Every token it issues is kept for asserts.
 */
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import type { Express, NextFunction, Request, Response } from 'express';
import express from 'express';
import { openDb } from '../daemons/coordinator/db.js';
import { gitHttp, presentedToken } from '../daemons/coordinator/git-http.js';
import { CredentialStore } from '../daemons/coordinator/identity/credential-store.js';
import { createLogger } from '../daemons/shared/log.js';

export interface AppTokenRecord {
  token: string;
  installationId: number;
  /** Repository names (not owner/name) it may touch; null: every repository of the installation. */
  repositories: string[] | null;
  permissions: Record<string, string>;
  expiresAt: number;
  revokedAt: number | null;
}

export interface StandInApp {
  appId: number;
  installationId: number;
  /** PKCS#1 PEM, as GitHub hands it out. */
  privateKey: string;
  tokens: AppTokenRecord[];
  /** JWTs that were refused, with why. */
  refusedJwts: string[];
}

/** The permissions the installation was granted (what an unrestricted installation token carries). */
const INSTALLATION_PERMISSIONS = { contents: 'write', issues: 'write', pull_requests: 'write', metadata: 'read' };

export function makeStandInApp(appId = 4242, installationId = 9001): StandInApp & { publicKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { appId, installationId, privateKey, publicKey, tokens: [], refusedJwts: [] };
}

function b64url(text: string): Buffer {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** Why a JWT is refused, or null when it is the App's: RS256, signed by its key, iss = App ID, at most 10 minutes long. */
function jwtProblem(jwt: string, app: StandInApp & { publicKey: string }): string | null {
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'not a JWT';
  const header = JSON.parse(b64url(parts[0]!).toString()) as { alg?: string };
  if (header.alg !== 'RS256') return `alg ${header.alg}`;
  if (!verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), app.publicKey, b64url(parts[2]!))) return 'bad signature';
  const claims = JSON.parse(b64url(parts[1]!).toString()) as { iss?: unknown; iat?: number; exp?: number };
  const now = Math.floor(Date.now() / 1000);
  if (String(claims.iss) !== String(app.appId)) return `iss ${String(claims.iss)}`;
  if (!claims.exp || !claims.iat || claims.exp <= now || claims.iat > now + 60 || claims.exp - claims.iat > 660) return 'expired or too long';
  return null;
}

/** The live installation token a request presents, if any. */
export function liveToken(app: StandInApp, presented: string | undefined): AppTokenRecord | undefined {
  const t = app.tokens.find((x) => x.token === presented);
  return t && t.revokedAt === null && t.expiresAt > Date.now() ? t : undefined;
}

export function addAppRoutes(server: Express, app: StandInApp & { publicKey: string }, gitRoot: string | undefined): void {
  const requireJwt = (req: Request, res: Response, next: NextFunction) => {
    const m = /^bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const problem = m ? jwtProblem(m[1]!, app) : 'no bearer JWT';
    if (problem) {
      app.refusedJwts.push(problem);
      res.status(401).json({ message: `A JSON web token could not be decoded (${problem})` });
      return;
    }
    next();
  };
  server.get('/repos/:owner/:repo/installation', requireJwt, (_req, res) => { res.json({ id: app.installationId, app_id: app.appId }); });
  server.post('/app/installations/:id/access_tokens', requireJwt, (req, res) => {
    if (Number(req.params.id) !== app.installationId) { res.status(404).json({ message: 'Not Found' }); return; }
    const asked = (req.body ?? {}) as { repositories?: string[]; permissions?: Record<string, string> };
    for (const [name, level] of Object.entries(asked.permissions ?? {})) {
      const has = (INSTALLATION_PERMISSIONS as Record<string, string>)[name];
      if (!has || (level === 'write' && has !== 'write')) { res.status(422).json({ message: `The permissions requested are not granted to this installation (${name})` }); return; }
    }
    const record: AppTokenRecord = {
      token: `ghs_${randomBytes(18).toString('hex')}`, installationId: app.installationId,
      repositories: asked.repositories ?? null, permissions: asked.permissions ?? { ...INSTALLATION_PERMISSIONS },
      expiresAt: Date.now() + 3_600_000, revokedAt: null,
    };
    app.tokens.push(record);
    res.status(201).json({
      token: record.token, expires_at: new Date(record.expiresAt).toISOString(), permissions: record.permissions,
      repository_selection: record.repositories ? 'selected' : 'all',
      ...(record.repositories ? { repositories: record.repositories.map((name, i) => ({ id: 100 + i, name, full_name: `acme/${name}` })) } : {}),
    });
  });
  server.delete('/installation/token', (req, res) => {
    const t = liveToken(app, /^token (.+)$/i.exec(req.headers.authorization ?? '')?.[1]);
    if (!t) { res.status(401).json({ message: 'Bad credentials' }); return; }
    t.revokedAt = Date.now();
    res.status(204).end();
  });
  // REST routes on a repository: a live installation token whose scope holds the repository and
  // the permission the route needs (a push token, contents: write only, may not comment).
  server.use('/repos/:owner/:repo', (req, res, next) => {
    if (req.path === '/installation') { next(); return; }
    const t = liveToken(app, /^token (.+)$/i.exec(req.headers.authorization ?? '')?.[1]);
    const need = req.path.startsWith('/pulls') ? 'pull_requests' : 'issues';
    if (!t) { res.status(401).json({ message: 'Bad credentials' }); return; }
    if ((t.repositories && !t.repositories.includes(req.params.repo!)) || t.permissions[need] !== 'write') {
      res.status(403).json({ message: 'Resource not accessible by integration' });
      return;
    }
    next();
  });
  if (gitRoot) {
    // Fetching is public; pushing needs a live token for this repository with contents: write.
    // The local forge's git route, behind GitHub's own token check: one stand-in identity that may push any branch.
    const db = openDb(':memory:');
    const credentials = new CredentialStore(db);
    const internal = credentials.enroll('github-stand-in');
    const backend = gitHttp({ root: gitRoot, credentials, pushableRefs: () => ({ prefixes: [''], exact: [] }), log: createLogger({ level: 'silent', name: 'stand-in-git', secrets: [] }) });
    server.use('/git', express.Router().use((req, res, next) => {
      const repo = /^\/[^/]+\/([^/]+)\.git\//.exec(req.path)?.[1];
      const pushing = req.path.endsWith('/git-receive-pack') || req.query.service === 'git-receive-pack';
      if (pushing) {
        const t = liveToken(app, presentedToken(req.headers.authorization));
        if (!t || (t.repositories && !t.repositories.includes(repo ?? '')) || t.permissions.contents !== 'write') {
          res.status(401).set('www-authenticate', 'Basic realm="GitHub"').send('Invalid username or token.\n');
          return;
        }
      }
      req.headers.authorization = `Bearer ${internal}`;
      next();
    }, backend));
  }
}
