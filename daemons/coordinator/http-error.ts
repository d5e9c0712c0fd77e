/** The one HTTP error type, and the express handler that turns any error into `{"error":{code,message}}`. */
import type { ErrorRequestHandler } from 'express';
import type { z } from 'zod';
import { CccError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: Array<{ path: string; message: string }>,
  ) {
    super(message);
  }

  static fromZod(error: z.ZodError, what: string): HttpError {
    const fields = error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((key) => ({ path: [...i.path, key].join('.'), message: 'is not a known field' }))
        : [{ path: i.path.join('.') || '(body)', message: i.message }]);
    return new HttpError(400, 'invalid_request', `invalid ${what}: ${fields.map((f) => `${f.path}: ${f.message}`).join('; ')}`, fields);
  }
}

const STATUS_BY_CODE: Record<string, number> = { not_found: 404, illegal_transition: 409 };

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const e = err as { status?: number; type?: string; message?: string };
    let status = 500;
    let body: { code: string; message: string; fields?: unknown };
    if (err instanceof HttpError) {
      status = err.status;
      body = { code: err.code, message: err.message, ...(err.fields ? { fields: err.fields } : {}) };
    } else if (err instanceof CccError) {
      status = STATUS_BY_CODE[err.code] ?? 400;
      body = { code: err.code, message: err.message };
    } else if (e.type === 'entity.too.large') {
      status = 413;
      body = { code: 'too_large', message: 'request body is too large (limit 1 MiB)' };
    } else if (e.type === 'entity.parse.failed') {
      status = 400;
      body = { code: 'invalid_json', message: 'request body is not valid JSON' };
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      status = e.status;
      body = { code: 'bad_request', message: e.message ?? 'bad request' };
    } else {
      log.error({ err }, 'request failed');
      body = { code: 'internal', message: 'internal error; the coordinator log has the details' };
    }
    res.status(status).json({ error: body });
  };
}
