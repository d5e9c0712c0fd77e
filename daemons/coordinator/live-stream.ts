/**
 * GET /api/v1/events: a live stream (server-sent events) of what changes —
 * `task` (a task's new state), `task-event` (an entry of a task's history,
 * progress included) and `agents` (the agent list, when it changes).
 * `?task=N` narrows it to one task. Read with fetch (it needs the bearer
 * token, which EventSource cannot send).
 */
import type { RequestHandler, Response } from 'express';
import type { AgentRegistry } from './agent-registry.js';
import { HttpError } from './http-error.js';
import type { TaskStore } from './task-store.js';

/** A client this far behind is cut off rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;

interface Client {
  res: Response;
  taskId: number | undefined;
}

export class LiveStream {
  private readonly clients = new Set<Client>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(store: TaskStore, registry: AgentRegistry) {
    store.onChange((task) => this.send('task', task, task.id));
    store.onEvent((event) => this.send('task-event', event, event.taskId));
    // The list costs two queries: build it only when someone is listening (a reconnect storm changes it often).
    registry.onChange(() => { if (this.clients.size > 0) this.send('agents', { agents: registry.list(store.activeCounts()) }, undefined); });
    this.keepalive = setInterval(() => { for (const c of this.clients) this.write(c, ': keepalive\n\n'); }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  handler(): RequestHandler {
    return (req, res) => {
      const raw = req.query.task;
      const taskId = raw === undefined ? undefined : Number(raw);
      if (taskId !== undefined && (!Number.isInteger(taskId) || taskId < 1)) {
        throw new HttpError(400, 'invalid_request', 'task must be a positive whole number', [{ path: 'task', message: 'expected a positive whole number' }]);
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      const client: Client = { res, taskId };
      this.clients.add(client);
      req.on('close', () => this.clients.delete(client));
    };
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private send(event: string, data: unknown, taskId: number | undefined): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) if (c.taskId === undefined || c.taskId === taskId) this.write(c, frame);
  }

  private write(client: Client, frame: string): void {
    if (client.res.writableLength > MAX_BUFFERED_BYTES) {
      client.res.destroy();
      this.clients.delete(client);
      return;
    }
    client.res.write(frame);
  }
}
