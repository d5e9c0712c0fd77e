/** `ccc agents`, `ccc drain <agent>`, `ccc resume <agent>`. */
import { EXIT, type AgentView, type ApiClient, type ExitCode } from './api-client.js';
import { age, json, table } from './format.js';
import type { Io } from './io.js';

export function agentsTable(agents: readonly AgentView[], io: Io): string {
  const now = io.now();
  return table(agents, [
    { header: 'AGENT', cell: (a) => a.id },
    { header: 'STATE', cell: (a) => a.state },
    { header: 'LOAD', cell: (a) => `${a.running}/${a.capacity}`, align: 'right' },
    { header: 'SPECIALTIES', cell: (a) => a.specialties.join(','), flex: true },
    { header: 'ADDRESS', cell: (a) => a.address ?? '-' },
    { header: 'SEEN', cell: (a) => `${age(a.lastSeenAt, now)} ago` },
  ], io.width);
}

export async function runAgents(api: ApiClient, io: Io, opts: { json: boolean }): Promise<ExitCode> {
  const body = await api.get<{ agents: AgentView[] }>('/agents');
  if (opts.json) io.out(json(body));
  else if (body.agents.length === 0) io.out('no agent has registered yet\n');
  else io.out(agentsTable(body.agents, io));
  return EXIT.ok;
}

/** Drain: no new tasks for the agent (its running ones finish); resume: it takes tasks again. */
export async function runDrainOrResume(api: ApiClient, io: Io, opts: { agent: string; action: 'drain' | 'resume'; json: boolean }): Promise<ExitCode> {
  const body = await api.post<{ agent: AgentView }>(`/agents/${encodeURIComponent(opts.agent)}/${opts.action}`);
  if (opts.json) {
    io.out(json(body));
    return EXIT.ok;
  }
  const a = body.agent;
  const running = a.running ? `; ${a.running} running task${a.running === 1 ? '' : 's'} finish${a.running === 1 ? 'es' : ''} there` : '';
  if (opts.action === 'drain') {
    io.out(a.state === 'offline'
      ? `agent ${a.id} drained: it is offline, and takes no new tasks when it comes back (ccc resume ${a.id} to undo)\n`
      : `agent ${a.id} draining: it takes no new tasks${running} (ccc resume ${a.id} to undo)\n`);
  } else {
    io.out(a.state === 'online' ? `agent ${a.id} online: it takes new tasks again\n`
      : a.state === 'draining' ? `agent ${a.id} resumed, but it is draining itself (shutting down): it takes no new tasks until it reconnects\n`
        : `agent ${a.id} resumed: it is offline, and takes new tasks when it comes back\n`);
  }
  return EXIT.ok;
}
