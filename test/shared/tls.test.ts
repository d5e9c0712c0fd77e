/**
 * TLS between the machines, with certificates made at test time by provision/tls.sh (openssl):
 * the coordinator serves HTTPS/WSS, an agent and the CLI verify it against CCC_TLS_CA, and a wrong
 * CA or a certificate for another name is refused with a message naming the file to fix.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../daemons/agent/agent.js';
import { AgentCredential } from '../../daemons/agent/credential.js';
import { CommandExecutor } from '../../daemons/agent/command-executor.js';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { loadServerTls, loadTrust } from '../../daemons/shared/tls.js';
import { ADMIN_TOKEN, AGENT_TOKEN, SPECIALTIES, eventually, memoryLogger, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';
import { cli } from '../cli/run-cli.js';

const TLS_SH = join(packageRoot, 'provision', 'tls.sh');

/** A cluster CA and a coordinator certificate for `ip`/`host`, as provisioning makes them. */
function pki(dir: string, ip = '127.0.0.1', host = 'localhost') {
  execFileSync('bash', [TLS_SH, 'ca', join(dir, 'ca')]);
  execFileSync('bash', [TLS_SH, 'cert', join(dir, 'ca'), join(dir, 'out'), ip, host]);
  return { ca: join(dir, 'ca', 'ca.pem'), cert: join(dir, 'out', 'coordinator.pem'), key: join(dir, 'out', 'coordinator.key') };
}

async function tlsCoordinator(dir: string, files: { cert: string; key: string }) {
  return startTestCoordinator(testEnv(dir, { CCC_TLS_CERT: files.cert, CCC_TLS_KEY: files.key }));
}

function agentWith(url: string, dir: string, caFile: string | undefined) {
  const { log, lines } = memoryLogger();
  const dataDir = join(dir, 'agent');
  const agent = new Agent({
    coordinatorUrl: url, credential: new AgentCredential({ dataDir, joinToken: AGENT_TOKEN, log }), trust: loadTrust(caFile),
    id: 'backend', hostname: 'backend.test', version: 'test', specialties: SPECIALTIES.backend!, capacity: 2,
    executor: new CommandExecutor({ command: ['true'], timeoutMs: 10_000, env: process.env }),
    dataDir, drainTimeoutMs: 1000, backoff: { baseMs: 50, capMs: 200 }, log,
  });
  agent.start();
  onCleanup(() => agent.stop());
  return { agent, lines };
}

describe('TLS', () => {
  it('the coordinator serves wss:// and https://; an agent with the cluster CA connects, and the CLI talks to it', async () => {
    const dir = tempDir();
    const files = pki(dir);
    const c = await tlsCoordinator(dir, files);
    expect(c.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { agent, lines } = agentWith(c.url, dir, files.ca);
    await eventually(() => agent.connected, 10_000, 'connected over wss');
    expect(lines.find((l) => l.includes('registered with the coordinator'))).toContain('"url":"wss://127.0.0.1:');
    const env = { CCC_CONFIG: join(dir, 'cluster.yml'), CCC_DATA_DIR: join(dir, 'cli'), CCC_COORDINATOR_URL: c.url, CCC_ADMIN_TOKEN: ADMIN_TOKEN, CCC_TLS_CA: files.ca };
    const ok = await cli(['agents', '--json'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).agents[0]).toMatchObject({ id: 'backend', state: 'online' });
    // Plain HTTP to a TLS port is not answered as the API.
    expect((await fetch(c.url.replace('https', 'http') + '/healthz').catch(() => undefined))?.ok ?? false).toBe(false);
  });

  it('an agent and the CLI with the wrong CA refuse to connect and name the CA file', async () => {
    const dir = tempDir();
    const files = pki(dir);
    const wrong = pki(join(dir, 'other'));
    const c = await tlsCoordinator(dir, files);
    const { agent, lines } = agentWith(c.url, dir, wrong.ca);
    await eventually(() => lines.some((l) => l.includes('refusing to connect') && l.includes(`is not signed by the CA in ${wrong.ca}`)), 10_000, 'refusal');
    expect(agent.connected).toBe(false);
    expect(c.registry.connected.size).toBe(0);
    const env = { CCC_CONFIG: join(dir, 'cluster.yml'), CCC_DATA_DIR: join(dir, 'cli'), CCC_COORDINATOR_URL: c.url, CCC_ADMIN_TOKEN: ADMIN_TOKEN, CCC_TLS_CA: wrong.ca };
    const refused = await cli(['agents'], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`is not signed by the CA in ${wrong.ca}`);
    // Without CCC_TLS_CA, the system's CAs do not know the cluster CA either.
    const { CCC_TLS_CA: _ca, ...noCa } = env;
    expect((await cli(['agents'], noCa)).stderr).toContain('set CCC_TLS_CA to the cluster CA file');
  });

  it('an agent refuses a coordinator certificate made for another name, and says which file to reissue', async () => {
    const dir = tempDir();
    const files = pki(dir, '10.9.8.7', 'elsewhere.test');
    const c = await tlsCoordinator(dir, files);
    const { agent, lines } = agentWith(c.url, dir, files.ca);
    await eventually(() => lines.some((l) => l.includes("the coordinator's certificate does not name 127.0.0.1") && l.includes('CCC_TLS_CERT')), 10_000, 'refusal');
    expect(agent.connected).toBe(false);
  });

  it('configuration mistakes name the file', () => {
    const dir = tempDir();
    const files = pki(dir);
    expect(() => loadServerTls(files.cert, undefined)).toThrow(/CCC_TLS_CERT and CCC_TLS_KEY go together/);
    expect(() => loadServerTls(files.key, files.key)).toThrow(`CCC_TLS_CERT: ${files.key} holds no PEM`);
    expect(() => loadTrust(join(dir, 'missing.pem'))).toThrow(`CCC_TLS_CA: cannot read ${join(dir, 'missing.pem')} (ENOENT)`);
  });
});
