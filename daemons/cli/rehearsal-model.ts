/** `ccc rehearsal-model`: the scripted Messages API for rehearsals without an Anthropic key, until SIGTERM/SIGINT. */
import type { Env } from '../shared/config.js';
import { CccError } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { startModelServer } from '../rehearsal/model-server.js';
import { FAULTS, MAX_LATENCY_MS, type Fault } from '../rehearsal/prompt.js';

export interface RehearsalModelOptions {
  host: string;
  port: number;
  /** CCC_REHEARSAL_FAULT, CCC_REHEARSAL_LATENCY_MS and CCC_LOG_LEVEL are read from here. */
  env: Env;
}

/** The server-wide knobs from the environment; a bad value stops the command with what is valid. */
export function rehearsalKnobsFromEnv(env: Env): { fault?: Fault; latencyMs?: number } {
  const fault = env.CCC_REHEARSAL_FAULT || undefined;
  if (fault !== undefined && !(FAULTS as readonly string[]).includes(fault)) {
    throw new CccError(`CCC_REHEARSAL_FAULT=${fault} is not a fault the rehearsal model knows; use one of ${FAULTS.join(', ')} (or leave it unset)`, 'config');
  }
  const latency = env.CCC_REHEARSAL_LATENCY_MS || undefined;
  if (latency !== undefined && (!/^\d+$/.test(latency) || Number(latency) > MAX_LATENCY_MS)) {
    throw new CccError(`CCC_REHEARSAL_LATENCY_MS=${latency} must be a number of milliseconds from 0 to ${MAX_LATENCY_MS}`, 'config');
  }
  return { fault: fault as Fault | undefined, latencyMs: latency === undefined ? undefined : Number(latency) };
}

export async function runRehearsalModel({ host, port, env }: RehearsalModelOptions): Promise<void> {
  const knobs = rehearsalKnobsFromEnv(env);
  const log = createLogger({ level: env.CCC_LOG_LEVEL || 'info', name: 'ccc-rehearsal-model', secrets: [] });
  const server = await startModelServer({ host, port, log, ...knobs }).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CccError(`${host}:${port} is taken: stop what listens there, or pass --port 0 for any free port`, 'start');
    if (code === 'EADDRNOTAVAIL') throw new CccError(`${host} is not an address of this machine: pass --host 127.0.0.1`, 'start');
    throw err;
  });
  process.stdout.write(`ccc rehearsal-model: listening on ${server.url}\n`);
  process.stdout.write(`  point the claude CLI at it: ANTHROPIC_BASE_URL=${server.url} ANTHROPIC_API_KEY=dummy\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal, requests: server.stats.requests }, 'rehearsal model stopping');
      server.close().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log.flush();
}
