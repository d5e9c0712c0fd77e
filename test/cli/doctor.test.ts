/** ccc doctor: one line per check, exit 0 only when none fails. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { clusterConfig, tempDir, writeCluster } from '../helpers.js';
import { cli, cliSetup, closedPort } from './run-cli.js';

const NAMES = ['node', 'config', 'claude', 'sandbox', 'model', 'git', 'coordinator', 'token', 'disk'];

/** The lines as [status, check, rest]. */
function parse(stdout: string): Array<[string, string, string]> {
  return stdout.trimEnd().split('\n').map((l) => {
    const m = /^(ok|warn|fail|skip) +(\S+) +(.*)$/.exec(l);
    if (!m) throw new Error(`not a doctor line: ${l}`);
    return [m[1]!, m[2]!, m[3]!];
  });
}

describe('ccc doctor', () => {
  it('passes every check against a running coordinator with the right token', async () => {
    const { url, env } = await cliSetup();
    const res = await cli(['doctor'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = parse(res.stdout);
    // This machine's Node decides the node line (Node 20 is past its end of life: a warning, not a failure).
    const nodeStatus = Number(process.versions.node.split('.')[0]) >= 22 ? 'ok' : 'warn';
    expect(lines.map(([status, name]) => [status, name])).toEqual(NAMES.map((n) => [n === 'node' ? nodeStatus : 'ok', n]));
    const detail = Object.fromEntries(lines.map(([, name, rest]) => [name, rest]));
    expect(detail.node).toContain(`v${process.versions.node}`);
    expect(detail.node).toContain('supported: 22 or 24');
    expect(detail.config).toBe(`${env.CCC_CONFIG}: coordinator 192.168.56.10:8080 and 4 agents`);
    expect(detail.claude).toBe('not used: agent.executor.type is command');
    expect(detail.git).toMatch(/^git version \d+\.\d+/);
    expect(detail.coordinator).toBe(`${url} answers /healthz (URL from CCC_COORDINATOR_URL)`);
    expect(detail.token).toBe('accepted (from CCC_ADMIN_TOKEN); 0 agents registered, 0 online');
    expect(detail.disk).toMatch(/^\d+\.\d GiB free at \//);

    const json = JSON.parse((await cli(['doctor', '--json'], env)).stdout);
    expect(json.ok).toBe(true);
    expect(json.checks.map((c: any) => c.check)).toEqual(NAMES);
  });

  it('runs the configured Claude Code CLI for its version, and names the fix when it is missing', async () => {
    const { env } = await cliSetup();
    const withClaude = writeCluster(tempDir(), clusterConfig({ agent: { executor: { type: 'claude' } } }));
    const ok = await cli(['doctor'], { ...env, CCC_CONFIG: withClaude });
    const claude = parse(ok.stdout).find(([, name]) => name === 'claude')!;
    const sandbox = parse(ok.stdout).find(([, name]) => name === 'sandbox')!;
    expect(sandbox.slice(0, 2)).toEqual(['ok', 'sandbox']);
    expect(sandbox[2]).toMatch(/^bubblewrap: bubblewrap [\d.]+: user, PID and network namespaces work$/);
    expect(claude[0]).toBe('ok');
    expect(claude[2]).toMatch(new RegExp(`^\\d+\\.\\d+\\.\\d+ \\(Claude Code\\) at ${join(packageRoot, 'node_modules', '.bin', 'claude')}$`));

    const missing = writeCluster(tempDir(), clusterConfig({ agent: { executor: { type: 'claude', binary: '/nonexistent/claude' } } }));
    const res = await cli(['doctor'], { ...env, CCC_CONFIG: missing });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('fail  claude       /nonexistent/claude: not found — fix: npm ci in the package (it pins @anthropic-ai/claude-code), or set agent.executor.binary in cluster.yml\n');
  });

  it('fails the coordinator check (and skips the token) when it is unreachable, and fails a refused token', async () => {
    const { env } = await cliSetup();
    const url = `http://127.0.0.1:${await closedPort()}`;
    const down = await cli(['doctor', '--url', url], env);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe('');
    expect(down.stdout).toContain(`fail  coordinator  ${url} (from --url): connection refused — fix: start it (ccc up, or systemctl start ccc-coordinator), or point --url / CCC_COORDINATOR_URL at it\n`);
    expect(down.stdout).toContain('skip  token        not checked: the coordinator is unreachable (token from CCC_ADMIN_TOKEN)\n');

    const refused = await cli(['doctor', '--token', 'not-the-admin-token-0123'], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('fail  token        refused (from --token) — fix: use the CCC_ADMIN_TOKEN the coordinator was started with');
    expect(refused.stdout).not.toContain('not-the-admin-token-0123');
    expect(parse(refused.stdout).filter(([status, name]) => status !== 'ok' && name !== 'node').map(([, name]) => name)).toEqual(['token']);
  });

  it('fails the config check with the first problem in cluster.yml', async () => {
    const { dir, env } = await cliSetup();
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'version: 2\n');
    const res = await cli(['doctor'], { ...env, CCC_CONFIG: bad });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(new RegExp(`\nfail  config       ${bad}: version: .* — fix: correct it \\(docs/configuration.md\\), or point CCC_CONFIG at a valid cluster.yml\n`));
    const json = JSON.parse((await cli(['doctor', '--json'], { ...env, CCC_CONFIG: bad })).stdout);
    expect(json.ok).toBe(false);
    expect(json.checks.find((c: any) => c.check === 'config')).toMatchObject({ status: 'fail', fix: expect.stringContaining('CCC_CONFIG') });
  });
});
