/**
 * sd_notify for the daemons under systemd (Type=notify): READY=1, STATUS=…, WATCHDOG=1 at half
 * of WATCHDOG_USEC, STOPPING=1. Sent through the `systemd-notify` binary (Node has no unix
 * datagram sockets); a no-op when NOTIFY_SOCKET is unset (ccc up, tests). Why not the npm
 * package `systemd-notify`: docs/systemd.md#notify.
 */
import { execFile } from 'node:child_process';
import type { Env } from './config.js';
import type { Logger } from './log.js';

/** Sends one notify message (its NAME=value fields); resolves when systemd has taken it. */
export type SendNotify = (fields: string[]) => Promise<void>;

export interface NotifierOptions {
  /** NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and PATH are read from here. */
  env: Env;
  log: Logger;
  /** For tests; defaults to running `systemd-notify FIELD…`. */
  send?: SendNotify;
  /** Defaults to process.pid (WATCHDOG_PID must name this process, or the watchdog is not ours). */
  pid?: number;
}

export interface Notifier {
  /** True when a service manager listens (NOTIFY_SOCKET is set). */
  readonly enabled: boolean;
  /** Milliseconds between WATCHDOG=1 pings, or undefined when systemd asked for none. */
  readonly watchdogMs: number | undefined;
  ready(status?: string): void;
  /** Sends STATUS= when the text differs from the last one; a burst collapses into the latest. */
  status(text: string): void;
  stopping(status?: string): void;
  /** Stops the watchdog and waits (at most `timeoutMs`) until everything queued is sent. */
  close(timeoutMs?: number): Promise<void>;
}

const SEND_TIMEOUT_MS = 10_000;

/** Half of WATCHDOG_USEC in ms, when the watchdog is meant for this process. */
export function watchdogInterval(env: Env, pid: number = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** `systemd-notify FIELD…` with NOTIFY_SOCKET; it waits (BARRIER=1) until systemd has read the message. */
export function systemdNotifyBinary(env: Env): SendNotify {
  const childEnv = { NOTIFY_SOCKET: env.NOTIFY_SOCKET ?? '', PATH: env.PATH ?? '/usr/bin:/bin' };
  return (fields) => new Promise((resolve, reject) => {
    execFile('systemd-notify', fields, { env: childEnv, timeout: SEND_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`systemd-notify ${fields.map((f) => f.split('=')[0]).join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

/** One line, as systemd shows it. */
const oneLine = (text: string) => text.replace(/\s*[\r\n]+\s*/g, ' ').trim();

export function createNotifier(opts: NotifierOptions): Notifier {
  const enabled = Boolean(opts.env.NOTIFY_SOCKET);
  const send = opts.send ?? systemdNotifyBinary(opts.env);
  const watchdogMs = enabled ? watchdogInterval(opts.env, opts.pid) : undefined;
  let chain: Promise<void> = Promise.resolve();
  let lastStatus: string | undefined;
  /** A STATUS= queued but not yet sent: later updates replace its text instead of queueing more. */
  let pendingStatus: { text: string } | undefined;
  let warned = false;
  let timer: NodeJS.Timeout | undefined;

  const enqueue = (fields: () => string[] | undefined) => {
    chain = chain.then(async () => {
      const f = fields();
      if (!f) return;
      try {
        await send(f);
      } catch (err) {
        // One warning: a daemon that cannot notify still works; systemd will say why it waits.
        if (!warned) opts.log.warn({ err: (err as Error).message }, 'cannot notify systemd (is systemd-notify installed?)');
        warned = true;
      }
    });
  };
  const withStatus = (fields: string[], status: string | undefined) => {
    if (status === undefined) return fields;
    lastStatus = oneLine(status);
    return [...fields, `STATUS=${lastStatus}`];
  };

  if (watchdogMs !== undefined) {
    // From the event loop on purpose: a blocked loop stops the pings and systemd restarts the unit.
    timer = setInterval(() => enqueue(() => ['WATCHDOG=1']), watchdogMs);
    timer.unref();
    enqueue(() => ['WATCHDOG=1']);
    opts.log.debug({ watchdogMs }, 'systemd watchdog pings');
  }

  return {
    enabled,
    watchdogMs,
    ready(status) {
      if (enabled) enqueue(() => withStatus(['READY=1'], status));
    },
    status(text) {
      if (!enabled) return;
      if (pendingStatus) {
        pendingStatus.text = text;
        return;
      }
      const entry = { text };
      pendingStatus = entry;
      enqueue(() => {
        pendingStatus = undefined;
        return oneLine(entry.text) === lastStatus ? undefined : withStatus([], entry.text);
      });
    },
    stopping(status) {
      if (enabled) enqueue(() => withStatus(['STOPPING=1'], status));
    },
    async close(timeoutMs = 2000) {
      clearInterval(timer);
      let t: NodeJS.Timeout | undefined;
      await Promise.race([chain, new Promise<void>((r) => { t = setTimeout(r, timeoutMs); })]);
      clearTimeout(t);
    },
  };
}
