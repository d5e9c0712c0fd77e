/** createLogger: redaction of known fields by path, and scrubbing of secret values anywhere in a line. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../daemons/shared/log.js';
import { ADMIN_TOKEN, AGENT_TOKEN, memoryLogger } from '../helpers.js';

function capture(secrets: Array<string | undefined>, level = 'debug') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ level, name: 'unit', secrets, destination });
  return { log, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('redaction by path', () => {
  // Values that are not configured secrets: only the path rules can hide them.
  const hidden = 'path-redacted-value-0001';

  it.each([
    ['token', { token: hidden }],
    ['nested token', { agent: { token: hidden } }],
    ['secret', { secret: hidden }],
    ['password', { db: { password: hidden } }],
    ['authorization', { authorization: `Bearer ${hidden}` }],
    ['headers.authorization', { headers: { authorization: `Bearer ${hidden}` } }],
    ['*.headers.authorization', { request: { headers: { authorization: `Bearer ${hidden}` } } }],
    ['req.headers.authorization', { req: { headers: { authorization: `Bearer ${hidden}`, host: 'x' } } }],
    ['x-hub-signature-256', { req: { headers: { 'x-hub-signature-256': `sha256=${hidden}` } } }],
    ['adminToken', { adminToken: hidden }],
    ['agentToken', { agentToken: hidden }],
    ['webhookSecret', { webhookSecret: hidden }],
  ])('%s', (_name, obj) => {
    const { log, lines } = capture([]);
    log.info(obj, 'with a secret field');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(hidden);
    expect(lines[0]).toContain('[redacted]');
  });

  it('keeps the fields around the redacted ones', () => {
    const { log, json } = capture([]);
    log.info({ req: { method: 'GET', url: '/api/v1/tasks', headers: { authorization: 'Bearer nope', host: 'coordinator' } }, agentId: 'backend' }, 'request');
    const [line] = json();
    expect(line!.req).toEqual({ method: 'GET', url: '/api/v1/tasks', headers: { authorization: '[redacted]', host: 'coordinator' } });
    expect(line!.agentId).toBe('backend');
    expect(line!.msg).toBe('request');
    expect(line!.name).toBe('unit');
  });
});

describe('scrubbing of configured secret values', () => {
  it('in the message, from a format argument and from a template string', () => {
    const { log, lines, json } = capture([ADMIN_TOKEN]);
    log.info('connecting with %s', ADMIN_TOKEN);
    log.warn(`GET http://127.0.0.1:8080/?token=${ADMIN_TOKEN}&x=1 failed`);
    for (const l of lines) expect(l).not.toContain(ADMIN_TOKEN);
    expect(json().map((l) => l.msg)).toEqual(['connecting with [redacted]', 'GET http://127.0.0.1:8080/?token=[redacted]&x=1 failed']);
  });

  it('in error messages and stacks', () => {
    const { log, lines, json } = capture([AGENT_TOKEN]);
    log.error({ err: new Error(`401 for bearer ${AGENT_TOKEN}`) }, 'connect failed');
    log.error(new Error(`bad token ${AGENT_TOKEN}`));
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).not.toContain(AGENT_TOKEN);
    const [first, second] = json();
    expect(first!.err.message).toBe('401 for bearer [redacted]');
    expect(first!.err.stack).toContain('[redacted]');
    expect(second!.msg).toBe('bad token [redacted]');
  });

  it('in nested objects and arrays under any key', () => {
    const { log, lines, json } = capture([ADMIN_TOKEN, AGENT_TOKEN]);
    log.info({ a: { b: { c: { note: `x${ADMIN_TOKEN}y` } } }, list: ['ok', AGENT_TOKEN], [`k-${AGENT_TOKEN}`]: 1 }, 'nested');
    expect(lines[0]).not.toContain(ADMIN_TOKEN);
    expect(lines[0]).not.toContain(AGENT_TOKEN);
    const [line] = json(); // still valid JSON after scrubbing
    expect(line!.a.b.c.note).toBe('x[redacted]y');
    expect(line!.list).toEqual(['ok', '[redacted]']);
    expect(line!['k-[redacted]']).toBe(1);
  });

  it('every occurrence, of every secret, in child loggers too', () => {
    const { log, lines } = capture([ADMIN_TOKEN, AGENT_TOKEN]);
    const child = log.child({ component: 'hub', peer: AGENT_TOKEN });
    child.info(`${ADMIN_TOKEN} ${ADMIN_TOKEN} ${AGENT_TOKEN}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(ADMIN_TOKEN);
    expect(lines[0]).not.toContain(AGENT_TOKEN);
    expect(JSON.parse(lines[0]!).msg).toBe('[redacted] [redacted] [redacted]');
    expect(JSON.parse(lines[0]!).peer).toBe('[redacted]');
  });

  it('the helpers\' memoryLogger scrubs the test tokens', () => {
    const { log, lines } = memoryLogger();
    log.debug({ detail: `Authorization: Bearer ${ADMIN_TOKEN}` }, `agent ${AGENT_TOKEN}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(ADMIN_TOKEN);
    expect(lines[0]).not.toContain(AGENT_TOKEN);
  });

  it('ignores undefined and very short secrets, which would shred ordinary text', () => {
    const { log, json } = capture([undefined, 'info', 'abc1234']);
    log.info('info about abc1234');
    expect(json()[0]!.msg).toBe('info about abc1234');
    expect(json()[0]!.level).toBe(30);
  });

  it('leaves lines without secrets untouched', () => {
    const { log, json } = capture([ADMIN_TOKEN]);
    log.info({ taskId: 7, attempt: 2 }, 'task 7 assigned to backend');
    expect(json()[0]).toMatchObject({ taskId: 7, attempt: 2, msg: 'task 7 assigned to backend', name: 'unit' });
  });

  it('respects the level', () => {
    const { log, lines } = capture([], 'warn');
    log.info('dropped');
    log.debug('dropped');
    log.warn('kept');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['kept']);
  });
});

describe('scrubSecrets', () => {
  it('replaces every occurrence of every secret', () => {
    expect(scrubSecrets('a SECRET1 b SECRET1 c SECRET2', ['SECRET1', 'SECRET2'])).toBe('a [redacted] b [redacted] c [redacted]');
  });

  it('returns the text unchanged without a match or without secrets', () => {
    expect(scrubSecrets('nothing to see', ['SECRET1'])).toBe('nothing to see');
    expect(scrubSecrets('nothing to see', [])).toBe('nothing to see');
  });

  it('treats secrets literally, not as patterns', () => {
    expect(scrubSecrets('a+b=c/d.e a_b', ['a+b=c/d.e'])).toBe('[redacted] a_b');
    expect(scrubSecrets('aaab', ['a.b'])).toBe('aaab');
  });

  it('hides a secret completely even when another secret is a prefix of it', () => {
    const short = 'abcdefgh01234567';
    const long = `${short}LONGERPART99`;
    for (const secrets of [[long, short], [short, long]]) {
      const out = scrubSecrets(`admin=${short} webhook=${long}`, secrets);
      expect(out).toBe('admin=[redacted] webhook=[redacted]');
    }
  });
});

describe('pretty logs on a terminal', () => {
  it('scrub secrets before pino-pretty formats the line', async () => {
    const { createLogger } = await import('../../daemons/shared/log.js');
    const { Writable } = await import('node:stream');
    const chunks: string[] = [];
    const destination = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
    const log = createLogger({ level: 'info', name: 't', secrets: ['pretty-secret-0123456789'], pretty: true, destination });
    log.info({ detail: 'with pretty-secret-0123456789 inside' }, 'hello pretty-secret-0123456789');
    await new Promise((r) => setTimeout(r, 50));
    const out = chunks.join('');
    expect(out).toContain('with [redacted] inside');
    expect(out).toContain('hello [redacted]');
    expect(out).not.toContain('pretty-secret-0123456789');
  });

  it('redacts a push token and a private key wherever they sit in a logged object', () => {
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger({ level: 'info', name: 't', secrets: [], destination });
    log.info({ message: { type: 'task.assign', pushToken: 'ghs_secretpushtoken0123456789' }, pushToken: 'ghs_other0123456789abc', app: { privateKey: '-----BEGIN RSA PRIVATE KEY-----x' } }, 'assign');
    const text = lines.join('');
    expect(text).not.toContain('ghs_');
    expect(text).not.toContain('BEGIN RSA');
    expect(text).toContain('[redacted]');
  });
});
