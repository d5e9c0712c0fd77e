/**
 * The model relay: the only way the Claude Code CLI reaches the model. Per task
 * it listens on its own socket and accepts only that task's random token, puts
 * the agent's real credential (ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN) in
 * its place, and forwards to the upstream, streaming the answer back untouched
 * while metering its usage. An upstream 401/403 is reported to the task at once
 * and passed back with `x-should-retry: false`, so the CLI does not retry it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { closeServer, listenOn, type ListenAt, type Listening } from '../../shared/listen.js';
import { emptyUsage, ResponseMeter, type Usage } from './usage-meter.js';

export const ANTHROPIC_API_URL = 'https://api.anthropic.com';

export interface ModelCredential {
  apiKey?: string | undefined;
  authToken?: string | undefined;
}

export interface RelayOptions {
  /** CCC_ANTHROPIC_BASE_URL, or Anthropic's API. */
  upstream: string;
  credential: ModelCredential;
}

export interface RelaySessionOptions {
  listen: ListenAt;
  /** The upstream refused the credential: the task must stop now and not be retried. */
  onRefused(status: number): void;
}

export interface RelaySession {
  /** What the CLI sends as ANTHROPIC_API_KEY; worthless once the session is closed. */
  token: string;
  listening: Listening;
  usage: Usage;
  close(): Promise<void>;
}

/** Request headers never forwarded: the task's token, hop-by-hop headers, the host, and accept-encoding (answers come uncompressed, so they can be metered). */
const DROPPED = new Set(['host', 'x-api-key', 'authorization', 'accept-encoding', 'connection', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export class ModelRelay {
  private readonly upstream: URL;

  constructor(private readonly opts: RelayOptions) {
    this.upstream = new URL(opts.upstream);
  }

  /** Whether the agent has a credential to put in the token's place. */
  get hasCredential(): boolean {
    return Boolean(this.opts.credential.apiKey || this.opts.credential.authToken);
  }

  async open(session: RelaySessionOptions): Promise<RelaySession> {
    const token = `ccc-task-${randomBytes(24).toString('hex')}`;
    const usage = emptyUsage();
    let open = true;
    const sockets = new Set<Socket>();
    const server = http.createServer((req, res) => {
      if (!open || !tokenMatches(req, token)) return refuse(res, 'the model relay does not know this token (it is valid only while its task runs)');
      this.forward(req, res, usage, session.onRefused);
    });
    server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
    const listening = await listenOn(server, session.listen);
    return {
      token, listening, usage,
      close: async () => { open = false; await closeServer(server, sockets); },
    };
  }

  private forward(req: IncomingMessage, res: ServerResponse, usage: Usage, onRefused: (status: number) => void): void {
    const headers: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(req.headers)) if (value !== undefined && !DROPPED.has(key)) headers[key] = value;
    const { apiKey, authToken } = this.opts.credential;
    if (apiKey) headers['x-api-key'] = apiKey;
    else if (authToken) headers.authorization = `Bearer ${authToken}`;
    const base = this.upstream.pathname.replace(/\/+$/, '');
    const target = new URL(base + (req.url ?? '/'), this.upstream);
    const client = target.protocol === 'https:' ? https : http;
    const upstream = client.request(target, { method: req.method, headers }, (answer) => {
      const status = answer.statusCode ?? 502;
      const out = { ...answer.headers };
      delete out.connection;
      delete out['keep-alive'];
      delete out['transfer-encoding'];
      if (status === 401 || status === 403) {
        out['x-should-retry'] = 'false';
        onRefused(status);
      }
      res.writeHead(status, out);
      const meter = status < 300 ? new ResponseMeter(usage, String(answer.headers['content-type'] ?? '')) : undefined;
      answer.on('data', (chunk: Buffer) => { meter?.push(chunk); res.write(chunk); });
      answer.on('end', () => { meter?.end(); res.end(); });
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: `the model relay cannot reach the model API: ${err.message}` } }));
    });
    res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
    req.pipe(upstream);
  }
}

function tokenMatches(req: IncomingMessage, token: string): boolean {
  const given = String(req.headers['x-api-key'] ?? '') || String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(res: ServerResponse, message: string): void {
  res.writeHead(401, { 'content-type': 'application/json', 'x-should-retry': 'false' });
  res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message } }));
}
