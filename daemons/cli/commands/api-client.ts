/** The operator CLI's HTTP client for the coordinator's /api/v1, and the one error type that carries an exit code. */
import type { Task, TaskEvent, TaskState } from '../../coordinator/task-model.js';
import { CccError } from '../../shared/errors.js';
import { fetchWithTrust, tlsProblem } from '../../shared/tls.js';
import type { Connection } from './connection.js';

// What the API returns: the coordinator's own types, so the two cannot drift apart.
export type { AgentView } from '../../coordinator/agent-registry.js';
export type { Task, TaskEvent, TaskState };
export type TaskWithEvents = Task & { events: TaskEvent[] };

/** States a task stays in unless an operator retries it. */
export const FINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled'];

/** Exit codes of the operator commands (docs/cli.md#exit-codes). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, refused: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the user can act on: main prints `ccc: <message>` and exits with `exitCode`, never a stack. */
export class CliError extends CccError {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** The bare reason (e.g. `connection refused`), for `ccc doctor`'s shorter lines. */
    readonly reason: string = message,
  ) {
    super(message, 'cli');
    this.name = 'CliError';
  }
}

/** Where an operator finds the admin token, for the messages that ask for it. */
export const TOKEN_WHERE = 'ccc up keeps it in .ccc/up/secrets.env; a provisioned coordinator in its env file under /etc/ccc/';

/** How long a request may take before the coordinator counts as unreachable. */
const REQUEST_TIMEOUT_MS = 10_000;

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name cannot be resolved now',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed',
  EPROTO: 'TLS handshake failed',
};

/** `fetch failed` hides the reason in `cause` (an AggregateError when several addresses were tried). */
export function networkReason(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const code = e.cause?.code ?? e.cause?.errors?.[0]?.code;
  return (code && NETWORK_REASONS[code]) ?? code ?? e.cause?.message ?? String(err);
}

export function unreachable(url: string, reason: string): CliError {
  return new CliError(`cannot reach the coordinator at ${url}: ${reason} — is it running? (ccc up, or systemctl status ccc-coordinator)`, EXIT.unreachable, reason);
}

/** Talks to one coordinator with the admin token; every failure becomes a CliError with the right exit code. */
export class ApiClient {
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly connection: Connection, fetchImpl?: typeof fetch) {
    this.fetchImpl = fetchImpl ?? fetchWithTrust(connection.trust);
  }

  get url(): string {
    return this.connection.url;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** `headers` are added to the request (e.g. `idempotency-key`). */
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, body, headers);
  }

  /** GET /healthz (no token): true, or a CliError saying why not. */
  async health(): Promise<void> {
    const res = await this.send('GET', '/healthz', undefined, false);
    if (!res.ok) throw this.notCoordinator('GET', '/healthz', res);
  }

  /** Opens a server-sent event stream under /api/v1; `signal` closes it. */
  async stream(path: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send('GET', `/api/v1${path}`, undefined, true, signal);
    if (!res.ok || !res.body) await this.fail('GET', path, res);
    return res.body!;
  }

  private async request<T>(method: string, path: string, body?: unknown, extraHeaders?: Record<string, string>): Promise<T> {
    const res = await this.send(method, `/api/v1${path}`, body, true, undefined, extraHeaders);
    if (!res.ok) return this.fail(method, path, res);
    try {
      return (await res.json()) as T;
    } catch {
      throw this.notCoordinator(method, path, res);
    }
  }

  private async send(method: string, path: string, body: unknown, auth: boolean, signal?: AbortSignal, extraHeaders?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = { ...extraHeaders, accept: 'application/json' };
    if (auth) headers.authorization = `Bearer ${this.connection.requireToken()}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    // The timeout covers the wait for the response headers only, so a live stream may stay open.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException('timed out', 'TimeoutError')), REQUEST_TIMEOUT_MS);
    try {
      return await this.fetchImpl(`${this.connection.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // A redirect would carry the token elsewhere; the coordinator never sends one.
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      const tls = tlsProblem((err as { cause?: unknown }).cause ?? err, this.connection.url, this.connection.trust);
      if (tls) throw new CliError(`refusing to talk to ${this.connection.url}: ${tls}`, EXIT.unreachable, tls);
      throw unreachable(this.connection.url, networkReason(timeout.signal.aborted ? timeout.signal.reason : err));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Turns an error response into a CliError: 401 → 4, the server's own message → 1, anything else → 3. */
  private async fail(method: string, path: string, res: Response): Promise<never> {
    const text = await res.text().catch(() => '');
    let message: string | undefined;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message;
    } catch { /* not JSON: not the coordinator */ }
    if (res.status === 401 && message) {
      const { tokenSource } = this.connection;
      throw new CliError(`the coordinator at ${this.url} refused the admin token from ${tokenSource}: use the CCC_ADMIN_TOKEN it was started with (${TOKEN_WHERE})`, EXIT.refused);
    }
    if (message) throw new CliError(message, EXIT.failed);
    throw this.notCoordinator(method, path, res);
  }

  private notCoordinator(method: string, path: string, res: Response): CliError {
    return new CliError(`${this.url} answered ${method} ${path} with HTTP ${res.status}, not as a ccc coordinator does — is the URL right? (--url, CCC_COORDINATOR_URL)`, EXIT.unreachable);
  }
}
