/** Exit codes and one-line messages, and where the CLI finds the coordinator and the token. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeUpUrl } from '../../daemons/cli/commands/up-files.js';
import { ADMIN_TOKEN, onCleanup } from '../helpers.js';
import { cli, cliSetup, closedPort } from './run-cli.js';

describe('ccc exit codes', () => {
  it('exits 3 with one line when the coordinator is unreachable', async () => {
    const { env } = await cliSetup();
    const url = `http://127.0.0.1:${await closedPort()}`;
    for (const args of [['status'], ['agents'], ['tasks', '--json'], ['logs', '1', '-f'], ['cancel', '1']]) {
      const res = await cli([...args, '--url', url], env);
      expect(res, args.join(' ')).toEqual({
        code: 3,
        stdout: '',
        stderr: `ccc: cannot reach the coordinator at ${url}: connection refused — is it running? (ccc up, or systemctl status ccc-coordinator)\n`,
      });
    }
  });

  it('exits 3 when the URL answers but is not a coordinator', async () => {
    const { env } = await cliSetup();
    const server = createServer((_req, res) => res.end('<html>hello</html>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const res = await cli(['agents', '--url', url], env);
    expect(res).toEqual({ code: 3, stdout: '', stderr: `ccc: ${url} answered GET /agents with HTTP 200, not as a ccc coordinator does — is the URL right? (--url, CCC_COORDINATOR_URL)\n` });
  });

  it('exits 4 when the token is refused, without printing it', async () => {
    const { env } = await cliSetup();
    const wrong = 'wrong-token-0123456789abcdef';
    const flag = await cli(['tasks', '--token', wrong], env);
    expect(flag.code).toBe(4);
    expect(flag.stderr).toMatch(/^ccc: the coordinator at http:\/\/127\.0\.0\.1:\d+ refused the admin token from --token: use the CCC_ADMIN_TOKEN it was started with .*\n$/);
    const variable = await cli(['status'], { ...env, CCC_ADMIN_TOKEN: wrong });
    expect(variable.code).toBe(4);
    expect(variable.stderr).toContain('refused the admin token from CCC_ADMIN_TOKEN');
    for (const out of [flag.stdout, flag.stderr, variable.stdout, variable.stderr]) {
      expect(out).not.toContain(wrong);
      expect(out).not.toContain(ADMIN_TOKEN);
    }
  });

  it('exits 1 with the server\'s message for an unknown task', async () => {
    const { env } = await cliSetup();
    for (const args of [['logs', '99'], ['logs', '99', '-f'], ['cancel', '99'], ['retry', '99']]) {
      expect(await cli(args, env), args.join(' ')).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(/^ccc: task 99 does not exist.*\n$/) });
    }
  });

  it('exits 2 with one line for a usage error, never a stack trace', async () => {
    const { env } = await cliSetup();
    const cases: Array<[string[], string]> = [
      [['tasks', '--frob'], 'ccc: Unknown argument: frob (see ccc tasks --help)\n'],
      [['frob'], 'ccc: Unknown argument: frob (see ccc --help)\n'],
      [[], 'ccc: say which command to run (see ccc --help)\n'],
      [['submit'], 'ccc: Missing required argument: title (see ccc submit --help)\n'],
      [['logs'], 'ccc: Not enough non-option arguments: got 0, need at least 1 (see ccc logs --help)\n'],
      [['tasks', '--token'], 'ccc: Not enough arguments following: token (see ccc tasks --help)\n'],
      [['logs', 'abc'], 'ccc: a task id is a positive whole number, such as 12 (got "abc")\n'],
      [['tasks', '--limit', '0'], 'ccc: --limit must be a whole number from 1 to 5000 (got 0)\n'],
      [['tasks', '--state', 'lost'], 'ccc: Invalid values: Argument: state, Given: "lost", Choices: "queued", "assigned", "running", "succeeded", "failed", "cancelled" (see ccc tasks --help)\n'],
      [['agents', '--url', 'ftp://x'], 'ccc: the coordinator URL from --url must be an http:// or https:// URL such as http://192.168.56.10:8080 (got "ftp://x")\n'],
      [['agents', '--token', 'has spaces in it'], 'ccc: the admin token from --token holds characters a token cannot have (letters, digits and . _ ~ + / = - only)\n'],
    ];
    for (const [args, stderr] of cases) expect(await cli(args, env), args.join(' ')).toEqual({ code: 2, stdout: '', stderr });
  });

  it('exits 2 when no token is configured anywhere', async () => {
    const { env } = await cliSetup();
    const res = await cli(['agents'], { ...env, CCC_ADMIN_TOKEN: undefined });
    expect(res).toEqual({ code: 2, stdout: '', stderr: `ccc: no admin token: pass --token, set CCC_ADMIN_TOKEN, or run ccc up (it keeps one in ${join(env.CCC_DATA_DIR!, 'secrets.env')})\n` });
  });
});

describe('where ccc finds the coordinator and the token', () => {
  it('uses what ccc up wrote when neither flags nor variables say', async () => {
    const { url, env } = await cliSetup();
    const upDir = env.CCC_DATA_DIR!;
    mkdirSync(upDir, { recursive: true });
    writeFileSync(join(upDir, 'secrets.env'), `CCC_ADMIN_TOKEN=${ADMIN_TOKEN}\nCCC_AGENT_TOKEN=not-used-here-0123456789\n`, { mode: 0o600 });
    writeUpUrl(upDir, url);
    const bare = { ...env, CCC_COORDINATOR_URL: undefined, CCC_ADMIN_TOKEN: undefined };
    const res = await cli(['status'], bare);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`coordinator  ${url} (from ${join(upDir, 'coordinator.url')})`);
    // Flags win over the files.
    const port = await closedPort();
    expect((await cli(['agents', '--url', `http://127.0.0.1:${port}`], bare)).code).toBe(3);
    expect((await cli(['agents', '--token', 'another-token-0123456789'], bare)).code).toBe(4);
  });

  it('reads the token from stdin with --token -', async () => {
    const { env } = await cliSetup();
    const noToken = { ...env, CCC_ADMIN_TOKEN: undefined };
    expect(await cli(['agents', '--token', '-'], noToken, `${ADMIN_TOKEN}\n`)).toMatchObject({ code: 0, stdout: 'no agent has registered yet\n' });
    expect(await cli(['agents', '--token', '-'], noToken, '')).toEqual({ code: 2, stdout: '', stderr: 'ccc: the admin token from stdin is empty\n' });
  });
});
