/** `ccc submit`: a task from the command line, as if an issue had been labeled. */
import { readFileSync } from 'node:fs';
import { CliError, EXIT, type ApiClient, type ExitCode, type Task } from './api-client.js';
import { json } from './format.js';
import type { Io } from './io.js';

export interface SubmitOptions {
  title: string;
  body?: string | undefined;
  /** A file with the body, or `-` for stdin. */
  bodyFile?: string | undefined;
  labels: string[];
  repo?: string | undefined;
  specialty?: string | undefined;
  json: boolean;
}

export async function runSubmit(api: ApiClient, io: Io, opts: SubmitOptions): Promise<ExitCode> {
  const request = {
    title: opts.title,
    body: opts.bodyFile !== undefined ? readBody(opts.bodyFile) : opts.body ?? '',
    labels: opts.labels,
    ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
    ...(opts.specialty !== undefined ? { specialty: opts.specialty } : {}),
  };
  const body = await api.post<{ task: Task }>('/tasks', request);
  const t = body.task;
  if (opts.json) io.out(json(body));
  else io.out(`task ${t.id} submitted (${t.state}, specialty ${t.specialty})\nroute: ${t.routeReason}\n`);
  return EXIT.ok;
}

function readBody(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`--body-file: cannot read ${file === '-' ? 'stdin' : file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, EXIT.usage);
  }
}
