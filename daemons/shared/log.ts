/**
 * pino JSON logs to stdout (journald takes them from there; a terminal gets pretty lines), with every
 * secret removed twice over: known fields by path, and any configured secret
 * value wherever it appears in a line (error messages, URLs, free text).
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { createRequire } from 'node:module';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'token', '*.token', 'secret', '*.secret', 'password', '*.password',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'req.headers.authorization', 'req.headers["x-hub-signature-256"]', 'adminToken', 'agentToken', 'webhookSecret',
  'pushToken', '*.pushToken', 'privateKey', '*.privateKey',
];

export interface LogOptions {
  level: string;
  name: string;
  /** Values that must never appear in a log line (tokens, secrets). */
  secrets: Array<string | undefined>;
  destination?: DestinationStream;
  /** Human-readable lines (a terminal); JSON otherwise (journald, files). */
  pretty?: boolean;
}

/** Replaces every occurrence of each secret in `text`, longest first so no secret's tail survives. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (out.includes(s)) out = out.split(s).join('[redacted]');
  // Agent credentials (docs/security.md#identity) are recognised by their prefix, wherever they come from.
  return out.includes('ccca_') ? out.replace(/ccca_[A-Za-z0-9_-]{8,}/g, '[redacted]') : out;
}

/** pino-pretty (~11 MB of modules) is loaded only when a terminal wants pretty lines, never by a daemon logging JSON. */
function prettyStream(): typeof import('pino-pretty') {
  return createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
}

export function createLogger({ level, name, secrets, destination, pretty }: LogOptions): Logger {
  const values = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: (line) => scrubSecrets(line, values) },
    },
    pretty
      ? prettyStream()({ colorize: !destination, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', ...(destination ? { destination } : {}) })
      // sync, as Node's own stdout is on Linux: pino's asynchronous mode flushes on exit with sonic-boom's
      // flushSync, which retries a failed write forever, so a node whose stdout reader is gone (a killed
      // `ccc up`: EPIPE) could never exit. Synchronous writes meet the EPIPE at once; pino then drops output.
      : destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

