// The dashboard's link to the coordinator: the admin token (sessionStorage),
// authenticated JSON requests, and the live stream GET /api/v1/events read
// with fetch (EventSource cannot send the bearer token), reconnected with
// exponential backoff and jitter when it drops.

const TOKEN_KEY = 'ccc-admin-token';
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;
/** The server sends a keepalive every 15 s; this much silence means a dead connection. */
const SILENCE_MS = 45_000;

/** Takes a token handed over as `/#token=…` and removes it from the address bar (and history). */
export function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token === null) return;
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  if (token.trim()) saveToken(token.trim());
}

export function loadToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A refusal or failure from the coordinator, with the message it gave. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET /api/v1<path> as JSON. Throws ApiError on an HTTP error, TypeError when unreachable. */
export async function getJson(path, token, signal) {
  const res = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${token}` }, signal, cache: 'no-store' });
  if (!res.ok) throw await apiError(res);
  return res.json();
}

async function apiError(res) {
  let code = 'http';
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body?.error?.message) ({ code, message } = body.error);
  } catch { /* not JSON */ }
  return new ApiError(res.status, code, message);
}

/**
 * Keeps the live stream open until stop(). For each connection: open the
 * stream, load the snapshot (`load`, while stream messages wait in a buffer),
 * then hand on every message (`onMessage(event, data)`). `onStatus` hears
 * {state: 'connecting' | 'live' | 'retrying' | 'unauthorized', reason?, message?, retryAt?}.
 */
export class LiveConnection {
  constructor({ token, load, onMessage, onStatus }) {
    Object.assign(this, { token, load, onMessage, onStatus });
    this.stopped = false;
    this.failures = 0;
    this.abort = null;
    this.wake = null;
  }

  start() {
    void this.run();
  }

  stop() {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
  }

  /** Skips the rest of a retry wait. */
  retryNow() {
    this.wake?.();
  }

  async run() {
    while (!this.stopped) {
      // A stream that ends is a drop; a request that cannot be made means the coordinator is unreachable.
      let reason = 'dropped';
      let message = '';
      try {
        this.onStatus({ state: 'connecting' });
        await this.once();
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof ApiError && err.status === 401) {
          this.onStatus({ state: 'unauthorized', message: err.message });
          return;
        }
        if (err instanceof ApiError) {
          reason = 'error';
          message = `${err.message} (HTTP ${err.status})`;
        } else {
          reason = 'unreachable';
        }
      }
      if (this.stopped) return;
      const delay = backoff(this.failures++);
      this.onStatus({ state: 'retrying', reason, message, retryAt: Date.now() + delay });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = null;
    }
  }

  /** One connection: returns when the stream ends, throws when it cannot open or load. */
  async once() {
    const abort = new AbortController();
    this.abort = abort;
    let watchdog;
    const alive = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => abort.abort(), SILENCE_MS);
    };
    try {
      alive();
      const res = await fetch('/api/v1/events', { headers: { authorization: `Bearer ${this.token}` }, signal: abort.signal, cache: 'no-store' });
      if (!res.ok) throw await apiError(res);
      const buffered = [];
      let deliver = (event, data) => buffered.push([event, data]);
      const reading = (async () => {
        for await (const m of sseMessages(res.body, alive)) deliver(m.event, m.data);
      })();
      reading.catch(() => {}); // a read error is a drop; handled where the stream is awaited
      await this.load(abort.signal);
      for (const [event, data] of buffered) this.onMessage(event, data);
      deliver = (event, data) => this.onMessage(event, data);
      this.failures = 0;
      this.onStatus({ state: 'live' });
      await reading.catch(() => {});
    } finally {
      clearTimeout(watchdog);
      abort.abort();
    }
  }
}

/** 1 s, 2 s, 4 s … up to 30 s, each shortened by up to half at random so many pages do not retry in step. */
function backoff(failures) {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
  return Math.round(ceiling * (0.5 + Math.random() / 2));
}

/** Server-sent events from a fetch body; `onActivity` is called for every chunk (keepalives included). */
async function* sseMessages(body, onActivity) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onActivity();
      buffer += decoder.decode(value, { stream: true }).replaceAll('\r', '');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) yield { event, data: data.join('\n') };
      }
    }
  } finally {
    reader.releaseLock();
  }
}
