/** `ccc agents` (and its revoke / allow-enroll), `ccc drain <agent>`, `ccc resume <agent>`. */
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
    { header: 'ENROLLED', cell: (a) => enrolled(a, now) },
    { header: 'CRED USED', cell: (a) => (a.enrollment?.lastUsedAt ? `${age(a.enrollment.lastUsedAt, now)} ago` : '-') },
  ], io.width);
}

function enrolled(a: AgentView, now: number): string {
  const e = a.enrollment;
  if (!e) return 'no';
  if (!e.enrolled) return e.enrollAllowed ? 'revoked, may re-enroll' : 'revoked';
  return e.enrolledAt ? `${age(e.enrolledAt, now)} ago` : 'yes';
}

interface EnrollmentAnswer { agent: string; requeued?: number; enrollment: AgentView['enrollment'] }

/** Revoke: the agent's connection closes, its tasks are queued again, its credential stops working. */
export async function runRevoke(api: ApiClient, io: Io, opts: { agent: string; allowReenroll: boolean; json: boolean }): Promise<ExitCode> {
  const query = opts.allowReenroll ? '?allowReenroll=true' : '';
  const body = await api.post<EnrollmentAnswer>(`/agents/${encodeURIComponent(opts.agent)}/revoke${query}`);
  if (opts.json) io.out(json(body));
  else {
    const n = body.requeued ?? 0;
    io.out(`agent ${body.agent} revoked: its credential no longer works${n ? `; ${n} task${n === 1 ? '' : 's'} queued again` : ''}; `
      + (opts.allowReenroll ? 'it may enroll again with the join token\n' : `it may enroll again after ccc agents allow-enroll ${body.agent}\n`));
  }
  return EXIT.ok;
}

/** Lets the join token enroll the agent (once more): after a revoke, or to replace a lost credential. */
export async function runAllowEnroll(api: ApiClient, io: Io, opts: { agent: string; json: boolean }): Promise<ExitCode> {
  const body = await api.post<EnrollmentAnswer>(`/agents/${encodeURIComponent(opts.agent)}/allow-enroll`);
  io.out(opts.json ? json(body) : `agent ${body.agent} may enroll once with the join token (CCC_AGENT_TOKEN); its next enrollment issues a new credential\n`);
  return EXIT.ok;
}

export async function runAgents(api: ApiClient, io: Io, opts: { json: boolean }): Promise<ExitCode> {
  const body = await api.get<{ agents: AgentView[] }>('/agents');
  if (opts.json) io.out(json(body));
  else if (body.agents.length === 0) io.out('no agent has registered yet\n');
  else io.out(agentsTable(body.agents, io) + body.agents.filter((a) => a.drainReason).map((a) => `${a.id} drains itself: ${a.drainReason}\n`).join(''));
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
