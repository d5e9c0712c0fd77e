/** `ccc pulls`, `ccc pull <n> [--diff]`, `ccc comment <n> "…"`: the local forge's pull requests and their conversation. */
import { CliError, EXIT, type ApiClient, type ExitCode } from './api-client.js';
import { age, json, table } from './format.js';
import type { Io } from './io.js';

interface Pull {
  number: number; repo: string; title: string; head: string; base: string; draft: boolean; state: string;
  label: string | null; taskId: number | null; createdAt: string; url: string; body: string;
}
interface Comment { id: number; author: string; body: string; createdAt: string }
interface PullDetail extends Pull {
  commits: Array<{ sha: string; author: string; at: string; subject: string }>;
  diff: string; truncated: boolean; error?: string;
  comments: Comment[]; tasks: Array<{ id: number; state: string; title: string; agentId: string | null }>;
}

export function parsePullNumber(raw: unknown): number {
  const text = String(raw).replace(/^#/, '');
  if (!/^[1-9]\d*$/.test(text)) throw new CliError(`a pull request number is a positive whole number, such as 3 (got "${String(raw)}"); \`ccc pulls\` lists them`, EXIT.usage);
  return Number(text);
}

export async function runPulls(api: ApiClient, io: Io, opts: { json: boolean }): Promise<ExitCode> {
  const body = await api.get<{ pulls: Pull[] }>('/forge/pulls');
  if (opts.json) io.out(json(body));
  else if (body.pulls.length === 0) io.out('no pull requests on the local forge (with CCC_GITHUB_TOKEN set, they are on GitHub)\n');
  else {
    const now = io.now();
    io.out(table(body.pulls, [
      { header: '#', cell: (p) => String(p.number), align: 'right' },
      { header: 'STATE', cell: (p) => (p.draft ? `${p.state} draft` : p.state) },
      { header: 'REPO', cell: (p) => p.repo },
      { header: 'BRANCH', cell: (p) => p.head },
      { header: 'AGE', cell: (p) => age(p.createdAt, now), align: 'right' },
      { header: 'TITLE', cell: (p) => p.title, flex: true },
    ], io.width));
  }
  return EXIT.ok;
}

export async function runPull(api: ApiClient, io: Io, opts: { number: number; diff: boolean; json: boolean }): Promise<ExitCode> {
  const { pull: p } = await api.get<{ pull: PullDetail }>(`/forge/pulls/${opts.number}`);
  if (opts.json) {
    io.out(json({ pull: opts.diff ? p : { ...p, diff: undefined } }));
    return EXIT.ok;
  }
  if (opts.diff) {
    io.out(p.diff);
    if (p.truncated) io.out('\n[the diff is cut here: it is larger than the coordinator serves]\n');
    if (p.error) io.err(`${p.error}\n`);
    return p.error ? EXIT.failed : EXIT.ok;
  }
  const lines = [
    `#${p.number} ${p.title}${p.draft ? ' [draft]' : ''}`,
    `${p.repo}: ${p.head} → ${p.base} · ${p.state}${p.label ? ` · ${p.label}` : ''}`,
    p.url,
    '',
    p.body,
    '',
    `Commits (${p.commits.length}):`,
    ...p.commits.map((c) => `  ${c.sha.slice(0, 12)} ${c.subject}`),
  ];
  if (p.error) lines.push(`  (${p.error})`);
  lines.push('', `Tasks: ${p.tasks.map((t) => `${t.id} ${t.state}`).join(', ') || 'none'}`, '', `Conversation (${p.comments.length}):`);
  for (const c of p.comments) lines.push(`--- ${c.author} · ${c.createdAt}`, c.body);
  lines.push('', `ccc pull ${p.number} --diff shows the changes; ccc comment ${p.number} "/ccc …" asks for a follow-up.`);
  io.out(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

export async function runComment(api: ApiClient, io: Io, opts: { number: number; body: string; author: string | undefined; json: boolean }): Promise<ExitCode> {
  if (!opts.body.trim()) throw new CliError('the comment is empty: give its text, e.g. ccc comment 3 "/ccc add a test"', EXIT.usage);
  const res = await api.post<{ comment: Comment; outcome: string; task?: { id: number; state: string }; reason?: string }>(
    `/forge/pulls/${opts.number}/comments`, { body: opts.body, ...(opts.author ? { author: opts.author } : {}) });
  if (opts.json) io.out(json(res));
  else if (res.outcome === 'comment') io.out(`commented on #${opts.number} (not a /ccc command: no task)\n`);
  else if (res.task) io.out(`commented on #${opts.number}: ${res.outcome}, task ${res.task.id} ${res.task.state} (ccc logs ${res.task.id} -f to follow it)\n`);
  else io.out(`commented on #${opts.number}; nothing to do: ${res.reason ?? res.outcome}\n`);
  return EXIT.ok;
}
