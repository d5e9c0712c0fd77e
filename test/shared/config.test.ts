/** config/cluster.yml + CCC_* overrides: daemons/shared/config.ts and cluster-schema.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentNode, defaultConfigFile, loadSettings, readCluster, requireSecret, type Env } from '../../daemons/shared/config.js';
import { CccError } from '../../daemons/shared/errors.js';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { clusterConfig, tempDir, writeCluster } from '../helpers.js';

const TOKEN_A = 'a'.repeat(16);
const TOKEN_B = 'B0-._~+/=abcdefghijklmnop';

/** Runs `fn`, expects a CccError with code 'config' whose message holds every fragment; returns the message. */
function configError(fn: () => unknown, ...fragments: string[]): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a config error').toBeInstanceOf(CccError);
  const err = caught as CccError;
  expect(err.code).toBe('config');
  for (const f of fragments) expect(err.message).toContain(f);
  return err.message;
}

/** A cluster.yml in a temp dir built from clusterConfig() after `edit`, and an env pointing at it. */
function withCluster(edit: (c: any) => void = () => {}, extra: Env = {}): { file: string; env: Env } {
  const config = clusterConfig() as any;
  edit(config);
  const file = writeCluster(tempDir(), config);
  return { file, env: { CCC_CONFIG: file, ...extra } };
}

function writeText(text: string): string {
  const file = join(tempDir(), 'cluster.yml');
  writeFileSync(file, text);
  return file;
}

describe('the shipped config/cluster.yml', () => {
  it('is the default and loads with five nodes', () => {
    const s = loadSettings({}, 'coordinator');
    expect(s.configFile).toBe(join(packageRoot, 'config', 'cluster.yml'));
    expect(s.configFile).toBe(defaultConfigFile);
    const { coordinator, agents } = s.cluster;
    expect(coordinator).toMatchObject({ name: 'coordinator', ip: '192.168.56.10', port: 8080 });
    expect(agents.map((a) => [a.name, a.ip])).toEqual([
      ['backend', '192.168.56.11'],
      ['frontend', '192.168.56.12'],
      ['testing', '192.168.56.13'],
      ['devops', '192.168.56.14'],
    ]);
    expect(agents[0]!.specialties).toEqual(['backend', 'api', 'database', 'python']);
    for (const a of agents) {
      expect(a.capacity).toBeGreaterThanOrEqual(1);
      expect(a.specialties.length).toBeGreaterThan(0);
    }
    expect(s.cluster.tasks.heartbeatSeconds).toBeLessThan(s.cluster.tasks.leaseSeconds);
  });

  it('gives defaults for everything the environment does not set', () => {
    const s = loadSettings({}, 'coordinator');
    expect(s.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(s.coordinatorUrl).toBe('http://192.168.56.10:8080');
    expect(s.dataDir).toBe(join(packageRoot, '.ccc', 'coordinator'));
    expect(s.logLevel).toBe('info');
    expect(s.agentId).toBeUndefined();
    expect(s.adminToken).toBeUndefined();
    expect(s.agentToken).toBeUndefined();
    expect(s.webhookSecret).toBeUndefined();
    expect(s.agentSourceAddress).toBeUndefined();
  });

  it('the default data dir depends on the role and the agent id', () => {
    expect(loadSettings({}, 'cli').dataDir).toBe(join(packageRoot, '.ccc', 'cli'));
    expect(loadSettings({}, 'agent').dataDir).toBe(join(packageRoot, '.ccc', 'agent'));
    expect(loadSettings({ CCC_AGENT_ID: 'frontend' }, 'agent').dataDir).toBe(join(packageRoot, '.ccc', 'agent-frontend'));
    // systemd's StateDirectory= wins over the package-relative default.
    expect(loadSettings({ STATE_DIRECTORY: '/var/lib/ccc', CCC_AGENT_ID: 'frontend' }, 'agent').dataDir).toBe('/var/lib/ccc');
  });
});

describe('schema defaults', () => {
  it('fills tasks, routing, ports, capacity and vm sizes left out of the file', () => {
    const file = writeText(`
version: 1
coordinator: { name: hub, ip: 10.0.0.1 }
agents:
  - { name: one, ip: 10.0.0.2, specialties: [backend] }
agent:
  executor: { type: command, command: [/bin/true] }
`);
    const c = readCluster(file);
    expect(c.coordinator).toEqual({ name: 'hub', ip: '10.0.0.1', port: 8080, vm: { cpus: 2, memoryMb: 2048 }, allowUnlistedAgents: false });
    expect(c.agents[0]).toEqual({ name: 'one', ip: '10.0.0.2', specialties: ['backend'], capacity: 2, vm: { cpus: 2, memoryMb: 2048 } });
    expect(c.tasks).toEqual({ maxAttempts: 3, retryBackoffSeconds: 5, leaseSeconds: 15, heartbeatSeconds: 5 });
    expect(c.routing).toEqual({ fallbackAfterSeconds: 0, planOrder: ['backend', 'frontend', 'testing', 'devops'], planApproval: 'comment' });
    expect(c.agent).toEqual({ drainTimeoutSeconds: 60, executor: { type: 'command', command: ['/bin/true'], timeoutSeconds: 1800 }, sandbox: 'on', egress: { allow: [] } });
  });

  it('keeps a custom routing.keywords table', () => {
    const { env } = withCluster((c) => { c.routing.keywords = { backend: ['rust', 'go'], docs: ['readme'] }; });
    expect(loadSettings(env).cluster.routing.keywords).toEqual({ backend: ['rust', 'go'], docs: ['readme'] });
  });
});

describe('CCC_* environment overrides', () => {
  it('CCC_CONFIG picks the file, resolved to an absolute path', () => {
    const { file, env } = withCluster((c) => { c.coordinator.port = 9999; c.agents = c.agents.slice(0, 2); });
    const s = loadSettings(env);
    expect(s.configFile).toBe(file);
    expect(s.cluster.agents.map((a) => a.name)).toEqual(['backend', 'frontend']);
    // The coordinator port in the file drives the defaults.
    expect(s.listen).toEqual({ host: '0.0.0.0', port: 9999 });
    expect(s.coordinatorUrl).toBe('http://192.168.56.10:9999');
    // A relative path is taken from the working directory.
    const rel = relative(process.cwd(), file);
    expect(loadSettings({ CCC_CONFIG: rel }).configFile).toBe(file);
  });

  it('CCC_DATA_DIR sets the data dir (absolute, and relative resolved) and beats STATE_DIRECTORY', () => {
    const { env } = withCluster();
    expect(loadSettings({ ...env, CCC_DATA_DIR: '/srv/ccc-data' }, 'coordinator').dataDir).toBe('/srv/ccc-data');
    expect(loadSettings({ ...env, CCC_DATA_DIR: 'some/dir' }, 'coordinator').dataDir).toBe(resolve('some/dir'));
    expect(loadSettings({ ...env, CCC_DATA_DIR: '/srv/x', STATE_DIRECTORY: '/var/lib/ccc' }, 'agent').dataDir).toBe('/srv/x');
  });

  it('CCC_LISTEN takes host:port', () => {
    const { env } = withCluster();
    expect(loadSettings({ ...env, CCC_LISTEN: '127.0.0.1:0' }).listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(loadSettings({ ...env, CCC_LISTEN: '127.0.0.10:8081' }).listen).toEqual({ host: '127.0.0.10', port: 8081 });
    expect(loadSettings({ ...env, CCC_LISTEN: 'localhost:65535' }).listen).toEqual({ host: 'localhost', port: 65535 });
    expect(loadSettings({ ...env, CCC_LISTEN: '[::1]:7700' }).listen).toEqual({ host: '::1', port: 7700 });
    expect(loadSettings({ ...env, CCC_LISTEN: '[::]:7700' }).listen).toEqual({ host: '::', port: 7700 });
  });

  it('CCC_LISTEN takes a bare port, listening on all addresses', () => {
    const { env } = withCluster();
    expect(loadSettings({ ...env, CCC_LISTEN: '9090' }).listen).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(loadSettings({ ...env, CCC_LISTEN: ':9091' }).listen).toEqual({ host: '0.0.0.0', port: 9091 });
  });

  it('CCC_COORDINATOR_URL overrides the URL built from the file, without trailing slashes', () => {
    const { env } = withCluster();
    expect(loadSettings({ ...env, CCC_COORDINATOR_URL: 'http://127.0.0.10:8080' }).coordinatorUrl).toBe('http://127.0.0.10:8080');
    expect(loadSettings({ ...env, CCC_COORDINATOR_URL: 'https://ccc.example.test/' }).coordinatorUrl).toBe('https://ccc.example.test');
    expect(loadSettings({ ...env, CCC_COORDINATOR_URL: 'http://127.0.0.1:1//' }).coordinatorUrl).toBe('http://127.0.0.1:1');
  });

  it('CCC_AGENT_ID names an agent of the file', () => {
    const { env } = withCluster();
    const s = loadSettings({ ...env, CCC_AGENT_ID: 'testing' }, 'agent');
    expect(s.agentId).toBe('testing');
    expect(agentNode(s)).toMatchObject({ name: 'testing', ip: '192.168.56.13', specialties: ['testing', 'qa', 'pytest', 'jest', 'e2e'] });
  });

  it('CCC_ADMIN_TOKEN, CCC_AGENT_TOKEN and CCC_WEBHOOK_SECRET are read as given', () => {
    const { env } = withCluster();
    const s = loadSettings({ ...env, CCC_ADMIN_TOKEN: TOKEN_A, CCC_AGENT_TOKEN: TOKEN_B, CCC_WEBHOOK_SECRET: 'c'.repeat(64) });
    expect(s.adminToken).toBe(TOKEN_A);
    expect(s.agentToken).toBe(TOKEN_B);
    expect(s.webhookSecret).toBe('c'.repeat(64));
    expect(requireSecret(s, 'adminToken', 'CCC_ADMIN_TOKEN')).toBe(TOKEN_A);
    expect(requireSecret(s, 'agentToken', 'CCC_AGENT_TOKEN')).toBe(TOKEN_B);
  });

  it('an empty variable counts as unset', () => {
    const { env } = withCluster();
    const s = loadSettings({ ...env, CCC_ADMIN_TOKEN: '', CCC_LOG_LEVEL: '', CCC_AGENT_ID: '', CCC_LISTEN: '', CCC_COORDINATOR_URL: '' });
    expect(s.adminToken).toBeUndefined();
    expect(s.logLevel).toBe('info');
    expect(s.agentId).toBeUndefined();
    expect(s.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(s.coordinatorUrl).toBe('http://192.168.56.10:8080');
  });

  it('CCC_LOG_LEVEL takes every pino level', () => {
    const { env } = withCluster();
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      expect(loadSettings({ ...env, CCC_LOG_LEVEL: level }).logLevel).toBe(level);
    }
  });

  it('CCC_AGENT_SOURCE_ADDRESS takes an IPv4 address', () => {
    const { env } = withCluster();
    expect(loadSettings({ ...env, CCC_AGENT_SOURCE_ADDRESS: '127.0.0.11' }).agentSourceAddress).toBe('127.0.0.11');
  });

  it('never reads process.env when an env object is passed', () => {
    const { env } = withCluster();
    const saved = process.env.CCC_LOG_LEVEL;
    process.env.CCC_LOG_LEVEL = 'not-a-level';
    try {
      expect(loadSettings(env).logLevel).toBe('info');
    } finally {
      if (saved === undefined) delete process.env.CCC_LOG_LEVEL;
      else process.env.CCC_LOG_LEVEL = saved;
    }
  });
});

describe('helpers that demand a value', () => {
  it('agentNode without CCC_AGENT_ID says how to choose one', () => {
    const { file, env } = withCluster();
    configError(() => agentNode(loadSettings(env, 'agent')), 'CCC_AGENT_ID', file, 'backend, frontend, testing, devops');
  });

  it('requireSecret names the variable to set', () => {
    const { env } = withCluster();
    configError(() => requireSecret(loadSettings(env), 'adminToken', 'CCC_ADMIN_TOKEN'), 'CCC_ADMIN_TOKEN is not set');
  });
});

describe('errors in cluster.yml name the file, the key and what is expected', () => {
  it('an unreadable file', () => {
    const missing = join(tempDir(), 'nope', 'cluster.yml');
    configError(() => loadSettings({ CCC_CONFIG: missing }), missing, 'cannot read', 'ENOENT', 'CCC_CONFIG');
    // A directory is not a file either.
    const dir = tempDir();
    configError(() => loadSettings({ CCC_CONFIG: dir }), dir, 'cannot read', 'EISDIR');
  });

  it('broken YAML, with where it broke', () => {
    const file = writeText('version: 1\ncoordinator: [\n  name: x\n');
    const msg = configError(() => loadSettings({ CCC_CONFIG: file }), file, 'not valid YAML');
    expect(msg).toMatch(/line \d+/);
  });

  it('a duplicate key, naming the line', () => {
    const shipped = readFileSync(defaultConfigFile, 'utf8');
    const file = writeText(shipped.replace('  leaseSeconds: 15', '  leaseSeconds: 15\n  leaseSeconds: 20'));
    const msg = configError(() => loadSettings({ CCC_CONFIG: file }), file, 'not valid YAML');
    expect(msg).toMatch(/unique/i);
    const line = shipped.split('\n').findIndex((l) => l.startsWith('  leaseSeconds: 15')) + 2;
    expect(msg).toContain(`line ${line}`);
  });

  it('a duplicate key, naming the duplicated key (not only its line)', () => {
    const shipped = readFileSync(defaultConfigFile, 'utf8');
    const file = writeText(shipped.replace('  leaseSeconds: 15', '  leaseSeconds: 15\n  leaseSeconds: 20'));
    configError(() => loadSettings({ CCC_CONFIG: file }), file, 'leaseSeconds');
  });

  it('a missing required value: agents[1].ip', () => {
    const { file, env } = withCluster((c) => { delete c.agents[1].ip; });
    const msg = configError(() => loadSettings(env), `${file}: agents[1].ip:`, 'expected string');
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('a missing top-level section', () => {
    const { file, env } = withCluster((c) => { delete c.coordinator; });
    configError(() => loadSettings(env), `${file}: coordinator:`, 'expected object');
  });

  it('a wrong type: capacity "two"', () => {
    const { file, env } = withCluster((c) => { c.agents[1].capacity = 'two'; });
    configError(() => loadSettings(env), `${file}: agents[1].capacity:`, 'expected number', 'received string');
  });

  it('values out of range or of the wrong form', () => {
    configError(() => loadSettings(withCluster((c) => { c.agents[0].capacity = 0; }).env), 'agents[0].capacity:', '>=1');
    configError(() => loadSettings(withCluster((c) => { c.agents[2].capacity = 1.5; }).env), 'agents[2].capacity:', 'expected int');
    configError(() => loadSettings(withCluster((c) => { c.agents[3].ip = '192.168.56.300'; }).env), 'agents[3].ip:', 'IPv4');
    configError(() => loadSettings(withCluster((c) => { c.agents[0].name = 'Backend'; }).env), 'agents[0].name:', 'lowercase name');
    configError(() => loadSettings(withCluster((c) => { c.agents[0].specialties = []; }).env), 'agents[0].specialties:', 'at least one specialty');
    configError(() => loadSettings(withCluster((c) => { c.agents[0].specialties = ['ok', 'Not OK']; }).env), 'agents[0].specialties[1]:', 'lowercase specialty');
    configError(() => loadSettings(withCluster((c) => { c.coordinator.port = 70000; }).env), 'coordinator.port:', '<=65535');
    configError(() => loadSettings(withCluster((c) => { c.version = 2; }).env), 'version:', '1');
    configError(() => loadSettings(withCluster((c) => { c.agents = []; }).env), 'agents:', 'at least one agent');
  });

  it('an unknown key (a typo) names the section and the key', () => {
    const { file, env } = withCluster((c) => { c.tasks.maxAttempt = 5; });
    configError(() => loadSettings(env), `${file}: tasks:`, 'Unrecognized key', 'maxAttempt');
    const nested = withCluster((c) => { c.agents[2].capacty = 3; });
    configError(() => loadSettings(nested.env), `${nested.file}: agents[2]:`, 'capacty');
    const top = withCluster((c) => { c.agnets = []; });
    configError(() => loadSettings(top.env), `${top.file}: (top level):`, 'agnets');
  });

  it('duplicate agent names and IPs, one line each', () => {
    const { file, env } = withCluster((c) => { c.agents[2].name = 'backend'; c.agents[3].ip = '192.168.56.11'; });
    const msg = configError(() => loadSettings(env),
      `${file}: agents[2].name: "backend" is used twice`,
      `${file}: agents[3].ip: 192.168.56.11 is used twice`);
    expect(msg.split('\n')).toHaveLength(2);
  });

  it('an agent may not reuse the coordinator name or IP', () => {
    const { env } = withCluster((c) => { c.agents[0].name = 'coordinator'; c.agents[1].ip = '192.168.56.10'; });
    configError(() => loadSettings(env), 'agents[0].name: "coordinator" is used twice', 'agents[1].ip: 192.168.56.10 is used twice');
  });

  it('heartbeatSeconds must be shorter than leaseSeconds', () => {
    const equal = withCluster((c) => { c.tasks.heartbeatSeconds = 2; c.tasks.leaseSeconds = 2; });
    configError(() => loadSettings(equal.env), `${equal.file}: tasks.heartbeatSeconds:`, 'shorter than tasks.leaseSeconds');
    const longer = withCluster((c) => { c.tasks.heartbeatSeconds = 10; c.tasks.leaseSeconds = 5; });
    configError(() => loadSettings(longer.env), 'tasks.heartbeatSeconds:', 'shorter than tasks.leaseSeconds');
    // Just below the lease is fine.
    expect(loadSettings(withCluster((c) => { c.tasks.heartbeatSeconds = 1.9; c.tasks.leaseSeconds = 2; }).env).cluster.tasks.heartbeatSeconds).toBe(1.9);
  });

  it('reports every problem, not just the first', () => {
    const { file, env } = withCluster((c) => { c.agents[0].capacity = 'two'; delete c.agents[1].ip; c.tasks.oops = 1; });
    const msg = configError(() => loadSettings(env), 'agents[0].capacity:', 'agents[1].ip:', 'tasks:');
    const lines = msg.split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l.startsWith(`${file}: `)).toBe(true);
  });

  it('an empty file', () => {
    const file = writeText('');
    configError(() => loadSettings({ CCC_CONFIG: file }), `${file}: (top level):`, 'expected object');
  });
});

describe('bad environment values name the variable and what is expected', () => {
  it('CCC_AGENT_ID not in the file', () => {
    const { file, env } = withCluster();
    configError(() => loadSettings({ ...env, CCC_AGENT_ID: 'database' }, 'agent'),
      'environment: CCC_AGENT_ID', `must name an agent of ${file}`, 'backend, frontend, testing, devops');
    // The coordinator is not an agent.
    configError(() => loadSettings({ ...env, CCC_AGENT_ID: 'coordinator' }, 'agent'), 'CCC_AGENT_ID');
  });

  it('a token that is too short', () => {
    const { env } = withCluster();
    configError(() => loadSettings({ ...env, CCC_ADMIN_TOKEN: 'a'.repeat(15) }), 'environment: CCC_ADMIN_TOKEN', 'too short', '16 characters');
    configError(() => loadSettings({ ...env, CCC_AGENT_TOKEN: 'short' }), 'environment: CCC_AGENT_TOKEN', 'too short');
    configError(() => loadSettings({ ...env, CCC_WEBHOOK_SECRET: 'short' }), 'environment: CCC_WEBHOOK_SECRET', 'too short');
  });

  it('a token with a space, a quote or a newline', () => {
    const { env } = withCluster();
    for (const bad of ['has a space 0123456789', 'quote"0123456789abcdef', "quote'0123456789abcdef", '0123456789abcdef\n', 'tab\t0123456789abcdef']) {
      configError(() => loadSettings({ ...env, CCC_ADMIN_TOKEN: bad }), 'environment: CCC_ADMIN_TOKEN', 'may hold only letters, digits');
      configError(() => loadSettings({ ...env, CCC_AGENT_TOKEN: bad }), 'environment: CCC_AGENT_TOKEN', 'may hold only');
      configError(() => loadSettings({ ...env, CCC_WEBHOOK_SECRET: bad }), 'environment: CCC_WEBHOOK_SECRET', 'may hold only');
    }
  });

  it('the error about a bad token does not repeat the token', () => {
    const { env } = withCluster();
    const secret = 'secret value with spaces 0123456789';
    const msg = configError(() => loadSettings({ ...env, CCC_ADMIN_TOKEN: secret }), 'CCC_ADMIN_TOKEN');
    expect(msg).not.toContain(secret);
  });

  it('a bad CCC_LISTEN', () => {
    const { env } = withCluster();
    for (const bad of ['localhost', '127.0.0.1:', '127.0.0.1:99999', '65536', '127.0.0.1:80x', '123456', '::1:7700', '[::1:7700', '[nothost]:80']) {
      configError(() => loadSettings({ ...env, CCC_LISTEN: bad }), 'environment: CCC_LISTEN', 'host:port or port', `"${bad}"`);
    }
  });

  it('a bad CCC_COORDINATOR_URL', () => {
    const { env } = withCluster();
    for (const bad of ['not a url', '192.168.56.10:8080', 'ftp://192.168.56.10:8080', 'ws://192.168.56.10:8080']) {
      configError(() => loadSettings({ ...env, CCC_COORDINATOR_URL: bad }), 'environment: CCC_COORDINATOR_URL', 'http:// or https:// URL');
    }
  });

  it('a bad CCC_LOG_LEVEL lists the levels', () => {
    const { env } = withCluster();
    configError(() => loadSettings({ ...env, CCC_LOG_LEVEL: 'verbose' }), 'environment: CCC_LOG_LEVEL', 'fatal, error, warn, info, debug, trace, silent');
    configError(() => loadSettings({ ...env, CCC_LOG_LEVEL: 'INFO' }), 'CCC_LOG_LEVEL');
  });

  it('a bad CCC_AGENT_SOURCE_ADDRESS', () => {
    const { env } = withCluster();
    for (const bad of ['::1', 'localhost', '127.0.0.256']) {
      configError(() => loadSettings({ ...env, CCC_AGENT_SOURCE_ADDRESS: bad }), 'environment: CCC_AGENT_SOURCE_ADDRESS', 'IPv4 address');
    }
  });
});
