/** `ccc submit`: a task from the command line, as if an issue had been labeled. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CliError, EXIT, type ApiClient, type ExitCode, type Task } from './api-client.js';
import { json } from './format.js';
import { stepOrder } from './tasks.js';
import type { Io } from './io.js';

export interface SubmitOptions {
  title: string;
  body?: string | undefined;
  /** A file with the body, or `-` for stdin. */
  bodyFile?: string | undefined;
  labels: string[];
  repo?: string | undefined;
  specialty?: string | undefined;
  /** A planner run that proposes a plan's steps (approved with `ccc approve`). */
  propose?: boolean;
  json: boolean;
}

export async function runSubmit(api: ApiClient, io: Io, opts: SubmitOptions): Promise<ExitCode> {
  const request = {
    title: opts.title,
    body: opts.bodyFile !== undefined ? readBody(opts.bodyFile) : opts.body ?? '',
    labels: opts.labels,
    ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
    ...(opts.specialty !== undefined ? { specialty: opts.specialty } : {}),
    ...(opts.propose ? { propose: true } : {}),
  };
  const body = await postOnce(api, request);
  const t = body.task;
  if (opts.json) io.out(json(body));
  else if (t.kind === 'plan') io.out(`plan ${t.id} submitted: ${stepOrder(t)}, one after another on one branch (ccc logs ${t.id} -f to follow it)\n`);
  else if (t.kind === 'planner') io.out(`planner task ${t.id} submitted: a read-only run proposes the steps; then \`ccc approve ${t.id}\` runs them\n`);
  else io.out(`task ${t.id} submitted (${t.state}, specialty ${t.specialty})\nroute: ${t.routeReason}\n`);
  return EXIT.ok;
}

/** Tries after a lost connection, before giving up (the coordinator may be restarting). */
export const SUBMIT_RETRY_DELAYS_MS = [1000, 2000, 4000];

/**
 * POST /tasks with one Idempotency-Key for this invocation, retried with the same key when the
 * coordinator cannot be reached: a retry gets the task a lost answer had created, never a second one.
 */
async function postOnce(api: ApiClient, request: unknown, delays: readonly number[] = SUBMIT_RETRY_DELAYS_MS): Promise<{ task: Task }> {
  const headers = { 'idempotency-key': randomUUID() };
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.post<{ task: Task }>('/tasks', request, headers);
    } catch (err) {
      const retryable = err instanceof CliError && err.exitCode === EXIT.unreachable && attempt < delays.length;
      if (!retryable) throw err;
      await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
    }
  }
}

function readBody(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`--body-file: cannot read ${file === '-' ? 'stdin' : file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, EXIT.usage);
  }
}
