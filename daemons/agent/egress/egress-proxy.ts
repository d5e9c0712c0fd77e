/**
 * The egress proxy: the sandbox's only way to the network. An HTTP forward
 * proxy (CONNECT for https, absolute URIs for http) that lets through only
 * hosts its allowlist names; every refusal is answered 403 and reported to the
 * task (`egress denied: host:port`). One session per task, on its own socket.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { closeServer, listenOn, type ListenAt, type Listening } from '../../shared/listen.js';
import { allows, type EgressRule } from './allowlist.js';

export interface EgressSessionOptions {
  listen: ListenAt;
  rules: readonly EgressRule[];
  /** A request was refused; `target` is `host:port`. */
  onDenied(target: string): void;
}

export interface EgressSession {
  listening: Listening;
  /** Refused requests so far. */
  denied: number;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 15_000;

export async function openEgressSession(opts: EgressSessionOptions): Promise<EgressSession> {
  const sockets = new Set<Socket>();
  const session: EgressSession = { listening: { port: 0 }, denied: 0, close: async () => {} };
  const deny = (host: string, port: number) => {
    session.denied++;
    opts.onDenied(`${host}:${port}`);
  };
  const server = http.createServer((req, res) => forwardPlain(req, res, opts.rules, deny));
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => tunnel(req, client as Socket, head, opts.rules, deny, sockets));
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  session.listening = await listenOn(server, opts.listen);
  session.close = () => closeServer(server, sockets);
  return session;
}

function splitTarget(authority: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(authority);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

function tunnel(req: IncomingMessage, client: Socket, head: Buffer, rules: readonly EgressRule[], deny: (h: string, p: number) => void, sockets: Set<Socket>): void {
  const target = splitTarget(req.url ?? '');
  client.on('error', () => client.destroy());
  if (!target || !allows(rules, target.host, target.port)) {
    if (target) deny(target.host, target.port);
    client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\negress denied: ${req.url ?? '?'} is not in agent.egress.allow\n`);
    return;
  }
  const upstream = net.connect({ host: target.host, port: target.port, timeout: CONNECT_TIMEOUT_MS });
  sockets.add(upstream);
  upstream.once('close', () => sockets.delete(upstream));
  upstream.once('connect', () => {
    upstream.setTimeout(0);
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  const fail = () => { if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'); upstream.destroy(); };
  upstream.once('timeout', fail);
  upstream.once('error', fail);
  client.once('close', () => upstream.destroy());
}

function forwardPlain(req: IncomingMessage, res: ServerResponse, rules: readonly EgressRule[], deny: (h: string, p: number) => void): void {
  let url: URL;
  try {
    url = new URL(req.url ?? '');
    if (url.protocol !== 'http:') throw new Error('not http');
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('this is a forward proxy: send an absolute http:// URI, or CONNECT for https\n');
    return;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  if (!allows(rules, host, port)) {
    deny(host, port);
    res.writeHead(403, { 'content-type': 'text/plain' }).end(`egress denied: ${host}:${port} is not in agent.egress.allow\n`);
    return;
  }
  const headers = { ...req.headers };
  delete headers['proxy-connection'];
  delete headers['proxy-authorization'];
  const upstream = http.request(url, { method: req.method, headers, timeout: CONNECT_TIMEOUT_MS }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
  upstream.on('error', () => { if (!res.headersSent) res.writeHead(502).end(); else res.destroy(); });
  req.pipe(upstream);
}
