/**
 * The rehearsal model: a scripted Anthropic Messages API the real `claude`
 * CLI can be pointed at (ANTHROPIC_BASE_URL + any API key). Plain node:http,
 * because it must stream server-sent events, hold requests open for the hang
 * fault and end them all on close(); express would add nothing here.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../shared/log.js';
import { messagesRequestSchema, type MessagesRequest } from './messages.js';
import type { Fault } from './prompt.js';
import { decideTurn, type ApiError, type Decision } from './script.js';
import { errorJson, estimateTokens, formatSse, messageJson, sseEvents } from './wire.js';

export interface ModelServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  log: Logger;
  /** A fault for every request whose issue does not name its own. */
  fault?: Fault;
  /** A delay before each server-sent event (and before a whole JSON answer). */
  latencyMs?: number;
  /** Sees each parsed Messages request (tests and the CLI check use it; header values are left out). */
  observe?: (request: ObservedRequest) => void;
}

export interface ObservedRequest {
  method: string;
  /** Path and query as sent, e.g. `/v1/messages?beta=true`. */
  url: string;
  headerNames: string[];
  body: MessagesRequest;
}

export interface ModelServer {
  /** http://host:port — the value for ANTHROPIC_BASE_URL. */
  url: string;
  close(): Promise<void>;
  /** `requests` counts every request received; `open` those not yet answered (a hung one stays open). */
  stats: { requests: number; open: number };
  /**
   * Changes the server-wide fault while it runs (a model API that goes down and comes back);
   * with `specialty`, only tasks of that specialty see it. undefined: no fault.
   */
  setFault(fault: Fault | undefined, specialty?: string): void;
}

/** The CLI sends the whole conversation each turn; 32 MiB is far more than a rehearsal builds up. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

class RequestError extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RequestError({ status: 413, type: 'request_too_large', message: `request body over ${MAX_BODY_BYTES} bytes` });
    parts.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new RequestError({ status: 400, type: 'invalid_request_error', message: 'request body is not JSON' });
  }
}

function hasCredential(req: IncomingMessage): boolean {
  return Boolean(req.headers['x-api-key'] || req.headers.authorization);
}

function describe(decision: Decision): Record<string, unknown> {
  if (decision.kind === 'hang') return { fault: 'hang' };
  if (decision.kind === 'error') return { error: decision.error.type, latencyMs: decision.latencyMs || undefined };
  const tools = decision.turn.content.flatMap((b) => (b.type === 'tool_use' ? [b.name] : []));
  return { turn: tools.length ? tools.join(',') : 'text', stopReason: decision.turn.stopReason, fault: decision.fault, latencyMs: decision.latencyMs || undefined };
}

export async function startModelServer(opts: ModelServerOptions): Promise<ModelServer> {
  const { log } = opts;
  const stats = { requests: 0, open: 0 };
  let current: { fault: Fault | undefined; specialty: string | undefined } = { fault: opts.fault, specialty: undefined };
  const inFlight = new Map<AbortController, Promise<void>>();

  async function answer(req: IncomingMessage, res: ServerResponse, id: string, signal: AbortSignal): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://rehearsal').pathname;
    const line = (status: number | null, fields: Record<string, unknown> = {}) => log.info({ id, method: req.method, path, status, ...fields }, 'model request');
    const fail = (error: ApiError) => {
      line(error.status, { error: error.type });
      sendJson(res, error.status, errorJson(error), error.retryable === null ? {} : { 'x-should-retry': String(error.retryable === true) });
    };
    const route = req.method === 'POST' && path === '/v1/messages' ? 'messages' : req.method === 'POST' && path === '/v1/messages/count_tokens' ? 'count_tokens' : undefined;
    if (!route) return fail({ status: 404, type: 'not_found_error', message: `rehearsal model: no route ${req.method} ${path}; it answers POST /v1/messages and POST /v1/messages/count_tokens` });
    if (!hasCredential(req)) return fail({ status: 401, type: 'authentication_error', message: 'x-api-key header is required (any value will do for the rehearsal model)' });
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (err) {
      if (err instanceof RequestError) return fail(err.error);
      throw err;
    }
    const parsed = messagesRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail({ status: 400, type: 'invalid_request_error', message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
    }
    const request = parsed.data;
    opts.observe?.({ method: req.method ?? '', url: req.url ?? '', headerNames: Object.keys(req.headers), body: request });
    if (route === 'count_tokens') {
      line(200, { route });
      return sendJson(res, 200, { input_tokens: estimateTokens([request.system, request.messages, request.tools]) });
    }

    const decision = decideTurn(request, { fault: current.fault, latencyMs: opts.latencyMs, ...(current.specialty ? { faultSpecialty: current.specialty } : {}) });
    if (decision.kind === 'hang') {
      line(null, describe(decision));
      // Held until the client gives up or close() ends it.
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      res.destroy();
      return;
    }
    if (decision.latencyMs) await sleep(decision.latencyMs, undefined, { signal });
    if (decision.kind === 'error') return fail(decision.error);
    const meta = { id: id.replace(/^req_/, 'msg_'), model: request.model, inputTokens: estimateTokens([request.system, request.messages]) };
    line(200, { ...describe(decision), stream: request.stream === true });
    if (request.stream !== true) return sendJson(res, 200, messageJson(decision.turn, meta));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const events = sseEvents(decision.turn, meta);
    for (const [i, event] of events.entries()) {
      if (decision.latencyMs && i > 0) await sleep(decision.latencyMs, undefined, { signal });
      res.write(formatSse(event));
    }
    res.end();
  }

  const server = createServer((req, res) => {
    stats.requests += 1;
    stats.open += 1;
    const id = `req_ccc_rehearsal_${stats.requests}`;
    const controller = new AbortController();
    inFlight.set(controller, new Promise<void>((resolve) => {
      res.once('close', () => {
        stats.open -= 1;
        inFlight.delete(controller);
        controller.abort();
        resolve();
      });
    }));
    res.setHeader('request-id', id);
    answer(req, res, id, controller.signal).catch((err: unknown) => {
      if (controller.signal.aborted) return; // The client left, or close() ended the request.
      log.error({ err, id }, 'model request failed');
      if (!res.headersSent) sendJson(res, 500, errorJson({ type: 'api_error', message: 'rehearsal model: internal error' }));
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  log.info({ url, fault: opts.fault, latencyMs: opts.latencyMs }, 'rehearsal model listening');

  let closed: Promise<void> | undefined;
  return {
    url,
    stats,
    setFault(fault, specialty) {
      current = { fault, specialty };
      log.info({ fault, specialty }, 'rehearsal model fault changed');
    },
    /** Stops listening and ends every request still open (a hung one too); resolves once all have ended. */
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const ended = [...inFlight.values()];
        for (const controller of inFlight.keys()) controller.abort();
        server.closeAllConnections();
        await Promise.all([stopped, ...ended]);
      })();
      return closed;
    },
  };
}
