/** The rehearsal model's script: prompt parsing, fault knobs, file choice and slug safety, the turn sequence. */
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MessagesRequest, RequestMessage } from '../../daemons/rehearsal/messages.js';
import { parseKnobs, parseTask, workingDirectory } from '../../daemons/rehearsal/prompt.js';
import { decideTurn, type Decision, type ScriptedTurn } from '../../daemons/rehearsal/script.js';
import { slugify, taskFile } from '../../daemons/rehearsal/task-file.js';

const CWD = '/srv/ccc/work/acme-web/task-7';

function prompt(opts: { title?: string; specialty?: string; issue?: string; body?: string } = {}): string {
  return [
    'You are the backend specialist in a team of Claude Code agents. Resolve the issue below.',
    '',
    'Repository: acme/web',
    `Issue: ${opts.issue ?? '#12'}`,
    `Title: ${opts.title ?? 'Add a /health endpoint'}`,
    `Specialty: ${opts.specialty ?? 'backend'}`,
    '---',
    opts.body ?? 'The load balancer needs a health check.',
  ].join('\n');
}

/** The first request of a run: system-reminder blocks, then the prompt; the working directory in a `system` message. */
function firstRequest(text = prompt(), cwd = CWD): MessagesRequest {
  return {
    model: 'claude-opus-5-5',
    stream: true,
    max_tokens: 128000,
    system: [{ type: 'text', text: 'You are a Claude agent, built on Anthropic\'s Claude Agent SDK.' }],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: '<system-reminder>\n# gitStatus\nCurrent branch: ccc/12-add-a-health-endpoint\n</system-reminder>' },
          { type: 'text', text },
        ],
      },
      { role: 'system', content: `# Environment\nYou have been invoked in the following environment: \n - Primary working directory: ${cwd}\n - Is a git repository: true\n` },
    ],
  };
}

/** `request` plus the assistant's blocks and the user's tool results for them, as the CLI sends the next turn. */
function answered(request: MessagesRequest, assistant: RequestMessage['content'], results: Array<{ text: string; isError?: boolean }>): MessagesRequest {
  const blocks = typeof assistant === 'string' ? [] : assistant;
  const uses = blocks.filter((b) => b.type === 'tool_use');
  return {
    ...request,
    messages: [
      ...request.messages,
      { role: 'assistant', content: assistant },
      { role: 'user', content: uses.map((u, i) => ({ type: 'tool_result', tool_use_id: u.id, content: results[i]?.text ?? '', is_error: results[i]?.isError ?? false })) },
    ],
  };
}

function turnOf(decision: Decision): ScriptedTurn {
  if (decision.kind !== 'turn') throw new Error(`expected a turn, got ${JSON.stringify(decision)}`);
  return decision.turn;
}

function toolInput(turn: ScriptedTurn, name: string): Record<string, unknown> {
  const use = turn.content.find((b) => b.type === 'tool_use');
  expect(use?.type === 'tool_use' && use.name).toBe(name);
  return use?.type === 'tool_use' ? use.input : {};
}

describe('parseTask', () => {
  it('reads the header lines around other text and the body after ---', () => {
    const task = parseTask(firstRequest(prompt({ body: 'line one\n---\nline two' })));
    expect(task).toEqual({
      repository: 'acme/web', issueNumber: 12, issueRef: '#12', title: 'Add a /health endpoint', specialty: 'backend',
      body: 'line one\n---\nline two',
    });
  });

  it('takes an issue without # and a task reference without a number', () => {
    expect(parseTask(firstRequest(prompt({ issue: '34' })))?.issueRef).toBe('#34');
    const task = parseTask(firstRequest(prompt({ issue: '(task 7)' })));
    expect(task?.issueNumber).toBeUndefined();
    expect(task?.issueRef).toBe('(task 7)');
  });

  it('finds nothing without a Title line, and tolerates CRLF and a missing specialty', () => {
    expect(parseTask(firstRequest('Please say hello.'))).toBeUndefined();
    const task = parseTask(firstRequest('Title: Fix it\r\nIssue: #3\r\n---\r\nbody\r\n'));
    expect(task).toMatchObject({ title: 'Fix it', issueNumber: 3, specialty: 'general', body: 'body\r\n' });
  });

  it('uses the header, not look-alike lines in the issue body', () => {
    const task = parseTask(firstRequest(prompt({ body: 'Title: ../../etc/passwd\nSpecialty: devops' })));
    expect(task).toMatchObject({ title: 'Add a /health endpoint', specialty: 'backend' });
  });
});

describe('parseKnobs', () => {
  it('reads fault and latency from a ccc-rehearsal line with text around it', () => {
    expect(parseKnobs('Drill.\n> ccc-rehearsal: fault=hang latency=250\nmore')).toEqual({ fault: 'hang', latencyMs: 250 });
    expect(parseKnobs('ccc-rehearsal: latency=40ms')).toEqual({ latencyMs: 40 });
    for (const fault of ['401', '500', 'overloaded', 'hang', 'max-turns']) expect(parseKnobs(`ccc-rehearsal: fault=${fault}`)).toEqual({ fault });
  });

  it('is empty without the line, and names the problem of a misspelt one', () => {
    expect(parseKnobs('nothing here')).toEqual({});
    expect(parseKnobs('ccc-rehearsal: fault=402').problem).toMatch(/unknown fault "402".*401, 401-gateway, 500, overloaded, hang, max-turns/);
    expect(parseKnobs('ccc-rehearsal: latency=5 bash=echo a  b; ls').bash).toBe('echo a  b; ls');
    expect(parseKnobs('ccc-rehearsal: latency=5 bash=echo a').latencyMs).toBe(5);
    expect(parseKnobs('ccc-rehearsal: bash=').problem).toMatch(/bash= needs a command/);
    expect(parseKnobs('ccc-rehearsal: latency=soon').problem).toMatch(/latency "soon"/);
    expect(parseKnobs('ccc-rehearsal: latency=999999999').problem).toMatch(/from 0 to 600000/);
    expect(parseKnobs('ccc-rehearsal: speed=fast').problem).toMatch(/unknown knob "speed=fast"/);
  });
});

describe('the write knob', () => {
  it('reads write=<path>:<percent-encoded content>, in order, and names a malformed one', () => {
    expect(parseKnobs('ccc-rehearsal: write=a%20b.txt:line%201%0Aline%202 write=/abs/x:')).toEqual({ writes: [{ path: 'a b.txt', content: 'line 1\nline 2' }, { path: '/abs/x', content: '' }] });
    expect(parseKnobs('ccc-rehearsal: write=nocolon').problem).toMatch(/write "nocolon" is not <path>:<percent-encoded content>/);
    expect(parseKnobs('ccc-rehearsal: write=x:%E0%A4%A').problem).toMatch(/is not <path>/);
  });

  it('Reads then Writes each planted file (relative to the working directory) before the task\'s own file', () => {
    const first = firstRequest(prompt({ body: 'ccc-rehearsal: write=.x/config:%5Bcore%5D' }));
    const read = turnOf(decideTurn(first));
    expect(toolInput(read, 'Read')).toEqual({ file_path: `${CWD}/.x/config` });
    const second = answered(first, read.content, [{ text: 'File does not exist.', isError: true }]);
    const write = turnOf(decideTurn(second));
    expect(toolInput(write, 'Write')).toEqual({ file_path: `${CWD}/.x/config`, content: '[core]' });
    const third = answered(second, write.content, [{ text: 'File created successfully' }]);
    expect(toolInput(turnOf(decideTurn(third)), 'Write').file_path).toBe(`${CWD}/server/add_a_health_endpoint.py`);
  });
});

describe('workingDirectory', () => {
  it('reads the system message of 2.1.331 and the older system prompt form', () => {
    expect(workingDirectory(firstRequest())).toBe(CWD);
    expect(workingDirectory({ messages: [], system: 'Here is useful information:\n<env>\nWorking directory: /w/x\n</env>' })).toBe('/w/x');
  });

  it('never reads the user messages, which hold the untrusted issue', () => {
    const request = firstRequest(prompt({ body: 'Primary working directory: /etc' }));
    request.messages = request.messages.filter((m) => m.role !== 'system');
    expect(workingDirectory(request)).toBeUndefined();
  });
});

describe('slugify and taskFile', () => {
  it('keeps only safe characters, so a title cannot climb out of its directory', () => {
    for (const title of ['../../etc/passwd', '..', '/abs/path', 'a\\..\\b', 'x/../../y', '.hidden', 'nul\u0000byte', '$(rm -rf /)']) {
      for (const sep of ['-', '_'] as const) {
        const slug = slugify(title, sep);
        expect(slug).toMatch(sep === '-' ? /^[a-z0-9]+(-[a-z0-9]+)*$/ : /^[a-z0-9]+(_[a-z0-9]+)*$/);
      }
      for (const specialty of ['backend', 'frontend', 'testing', 'devops', 'other']) {
        const { path } = taskFile({ repository: 'a/b', issueNumber: 1, issueRef: '#1', title, specialty, body: '' });
        expect(posix.normalize(path)).toBe(path);
        expect(path).not.toMatch(/(^|\/)\.\.?(\/|$)|^\//);
      }
    }
    expect(slugify('../../etc/passwd')).toBe('etc-passwd');
  });

  it('is short, never empty, and folds accents', () => {
    expect(slugify('Café: résumé upload')).toBe('cafe-resume-upload');
    expect(slugify('!!!', '-', 'issue-9')).toBe('issue-9');
    expect(slugify('a'.repeat(100))).toHaveLength(40);
    expect(slugify('Add a very long title that keeps going and going and going').length).toBeLessThanOrEqual(40);
  });

  it('puts the file where the specialty works, naming the issue and its title', () => {
    const file = (specialty: string) => taskFile({ repository: 'acme/web', issueNumber: 12, issueRef: '#12', title: 'Add a /health endpoint', specialty, body: '' });
    expect(file('backend').path).toBe('server/add_a_health_endpoint.py');
    expect(file('frontend').path).toBe('web/add-a-health-endpoint.tsx');
    expect(file('testing').path).toBe('tests/test_add_a_health_endpoint.py');
    expect(file('devops').path).toBe('deploy/add-a-health-endpoint.yml');
    expect(file('database').path).toBe('docs/add-a-health-endpoint.md');
    for (const s of ['backend', 'frontend', 'testing', 'devops', 'database']) {
      expect(file(s).content).toContain('#12');
      expect(file(s).content).toContain('Add a /health endpoint');
    }
  });

  it('keeps a hostile title on one comment line and inside string literals', () => {
    const { content } = taskFile({ repository: 'a/b', issueNumber: 2, issueRef: '#2', title: 'x"""\u2028import os', specialty: 'backend', body: '' });
    expect(content).toContain('TITLE = "x\\"\\"\\" import os"');
    expect(content.split('\n')[0]).toBe('# #2: x""" import os');
  });
});

describe('decideTurn, default scenario', () => {
  it('writes the file at an absolute path in the working directory, runs git status, then summarises', () => {
    const first = firstRequest();
    const write = turnOf(decideTurn(first));
    expect(write.stopReason).toBe('tool_use');
    const input = toolInput(write, 'Write');
    expect(input.file_path).toBe(`${CWD}/server/add_a_health_endpoint.py`);
    expect(input.content).toContain('#12: Add a /health endpoint');

    const second = answered(first, write.content, [{ text: 'File created successfully' }]);
    const status = turnOf(decideTurn(second));
    expect(toolInput(status, 'Bash')).toMatchObject({ command: 'git status --short' });

    const third = answered(second, status.content, [{ text: '?? server/' }]);
    const summary = turnOf(decideTurn(third));
    expect(summary.stopReason).toBe('end_turn');
    expect(summary.content).toEqual([{ type: 'text', text: expect.stringContaining('?? server/') }]);
    expect(summary.content[0]?.type === 'text' && summary.content[0].text).toContain('Added server/add_a_health_endpoint.py for #12');
  });

  it('gives the same answer to the same request (a retried request)', () => {
    expect(decideTurn(firstRequest())).toEqual(decideTurn(firstRequest()));
  });

  it('says so when the Write was refused', () => {
    const first = firstRequest();
    const write = turnOf(decideTurn(first));
    const second = answered(first, write.content, [{ text: 'Permission denied', isError: true }]);
    const status = turnOf(decideTurn(second));
    const summary = turnOf(decideTurn(answered(second, status.content, [{ text: '' }])));
    expect(summary.content[0]?.type === 'text' && summary.content[0].text).toMatch(/^Could not write server\/add_a_health_endpoint.py .*Permission denied/);
  });

  it('answers with text when the prompt has no task or the CLI gives no working directory', () => {
    expect(turnOf(decideTurn(firstRequest('Say hello.'))).stopReason).toBe('end_turn');
    const noCwd = firstRequest();
    noCwd.messages = noCwd.messages.filter((m) => m.role !== 'system');
    const turn = turnOf(decideTurn(noCwd));
    expect(turn.stopReason).toBe('end_turn');
    expect(turn.content[0]?.type === 'text' && turn.content[0].text).toMatch(/working directory/);
  });
});

describe('decideTurn, faults', () => {
  const withFault = (line: string) => firstRequest(prompt({ body: `Drill.\nccc-rehearsal: ${line}` }));

  it('maps 401, 500 and overloaded to Anthropic errors; only 5xx may be retried', () => {
    expect(decideTurn(withFault('fault=401'))).toMatchObject({ kind: 'error', error: { status: 401, type: 'authentication_error' } });
    expect(decideTurn(withFault('fault=401'))).not.toMatchObject({ error: { retryable: true } });
    expect(decideTurn(withFault('fault=500'))).toMatchObject({ kind: 'error', error: { status: 500, type: 'api_error', retryable: true } });
    expect(decideTurn(withFault('fault=overloaded'))).toMatchObject({ kind: 'error', error: { status: 529, type: 'overloaded_error', retryable: true } });
    expect(decideTurn(withFault('fault=hang'))).toEqual({ kind: 'hang' });
  });

  it('max-turns answers every turn with another Bash call', () => {
    let request = withFault('fault=max-turns');
    for (let n = 1; n <= 4; n++) {
      const turn = turnOf(decideTurn(request));
      expect(toolInput(turn, 'Bash')).toMatchObject({ command: `echo turn ${n}` });
      request = answered(request, turn.content, [{ text: `turn ${n}` }]);
    }
  });

  it('bash=<command> runs that command with Bash, then quotes what it printed', () => {
    const request = withFault('bash=env; cat /proc/1/environ');
    const turn = turnOf(decideTurn(request));
    expect(toolInput(turn, 'Bash')).toMatchObject({ command: 'env; cat /proc/1/environ' });
    const last = turnOf(decideTurn(answered(request, turn.content, [{ text: 'HOME=/x' }])));
    expect(last.stopReason).toBe('end_turn');
    expect(JSON.stringify(last.content)).toContain('bash:\\nHOME=/x');
  });

  it('carries latency, takes server-wide knobs, and lets the issue override them', () => {
    expect(decideTurn(withFault('latency=75'))).toMatchObject({ kind: 'turn', latencyMs: 75 });
    expect(decideTurn(firstRequest(), { fault: '500', latencyMs: 5 })).toMatchObject({ kind: 'error', latencyMs: 5, error: { status: 500 } });
    expect(decideTurn(withFault('fault=401'), { fault: '500' })).toMatchObject({ error: { status: 401 } });
    expect(decideTurn(withFault('latency=0'), { latencyMs: 900 })).toMatchObject({ kind: 'turn', latencyMs: 0 });
  });

  it('refuses a misspelt knob with a 400 that names it, never ignoring it', () => {
    expect(decideTurn(withFault('fault=timeout'))).toMatchObject({ kind: 'error', error: { status: 400, type: 'invalid_request_error', message: expect.stringMatching(/unknown fault "timeout"/) } });
  });

  it('reads knobs only from the issue body, not from other text', () => {
    const text = 'ccc-rehearsal: fault=401\n' + prompt();
    expect(decideTurn(firstRequest(text)).kind).toBe('turn');
  });
});
