/** `ccc doctor`: one line per prerequisite — ok, warn or fail, and the fix. Exit 0 when nothing failed. */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadSettings, type Env, type Settings } from '../../shared/config.js';
import { packageRoot } from '../../shared/package-root.js';
import { ApiClient, CliError, EXIT, TOKEN_WHERE, type AgentView, type ExitCode } from './api-client.js';
import type { Connection } from './connection.js';
import { json } from './format.js';
import { checkNodeVersion } from './node-release.js';
import type { Io } from './io.js';
import { checkModelCredential, checkSandbox } from './doctor-sandbox.js';
import { upDir } from './up-files.js';

const run = promisify(execFile);

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

const GiB = 1024 ** 3;
const LOW_DISK_BYTES = GiB;
/** `claude --version` should answer at once; a CLI that hangs here would hang in every task. */
const VERSION_TIMEOUT_MS = 20_000;

export interface DoctorDeps {
  env: Env;
  /** The coordinator to check, or the usage error that stopped us finding it. */
  connection: Connection | CliError;
  fetchImpl?: typeof fetch;
}

export async function doctor(deps: DoctorDeps): Promise<Check[]> {
  const checks: Check[] = [checkNodeVersion()];
  const { check: config, settings } = checkConfig(deps.env);
  checks.push(config);
  checks.push(...await checkClaude(settings, deps.env));
  checks.push(await checkSandbox(settings, deps.env), checkModelCredential(settings));
  checks.push(await checkGit(deps.env));
  const coordinator = await checkCoordinator(deps);
  checks.push(coordinator.check, await checkToken(deps, coordinator.api));
  checks.push(await checkDisk(deps.env));
  return checks;
}

export async function runDoctor(deps: DoctorDeps, io: Io, opts: { json: boolean }): Promise<ExitCode> {
  const checks = await doctor(deps);
  const ok = checks.every((c) => c.status === 'ok' || c.status === 'warn');
  if (opts.json) {
    io.out(json({ ok, checks }));
  } else {
    const w = Math.max(...checks.map((c) => c.check.length));
    for (const c of checks) io.out(`${c.status.padEnd(4)}  ${c.check.padEnd(w)}  ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ''}\n`);
  }
  return ok ? EXIT.ok : EXIT.failed;
}

function checkConfig(env: Env): { check: Check; settings?: Settings } {
  try {
    const settings = loadSettings(env, 'cli');
    const { cluster } = settings;
    return { settings, check: { check: 'config', status: 'ok', detail: `${settings.configFile}: coordinator ${cluster.coordinator.ip}:${cluster.coordinator.port} and ${cluster.agents.length} agents` } };
  } catch (err) {
    const first = (err as Error).message.split('\n')[0]!;
    return { check: { check: 'config', status: 'fail', detail: first, fix: 'correct it (docs/configuration.md), or point CCC_CONFIG at a valid cluster.yml' } };
  }
}

/** The Claude Code CLI(s) the agents would run: agent.executor.binary and any agents[].claude.binary. */
async function checkClaude(settings: Settings | undefined, env: Env): Promise<Check[]> {
  const executor = settings?.cluster.agent.executor;
  if (executor?.type === 'command') return [{ check: 'claude', status: 'ok', detail: 'not used: agent.executor.type is command' }];
  const binaries = new Set([executor?.binary ?? '{packageRoot}/node_modules/.bin/claude']);
  for (const a of settings?.cluster.agents ?? []) if (a.claude?.binary) binaries.add(a.claude.binary);
  const pinned = pinnedClaudeVersion();
  return Promise.all([...binaries].map(async (template): Promise<Check> => {
    const binary = template.replaceAll('{packageRoot}', packageRoot);
    try {
      const { stdout } = await run(binary, ['--version'], { timeout: VERSION_TIMEOUT_MS, env: { PATH: env.PATH, HOME: env.HOME } });
      const version = stdout.trim().split('\n')[0]!;
      if (pinned && !version.startsWith(pinned)) {
        return { check: 'claude', status: 'warn', detail: `${version} at ${binary}, but this package pins ${pinned}`, fix: 'npm ci, or expect behaviour other than docs/claude-code.md describes' };
      }
      return { check: 'claude', status: 'ok', detail: `${version} at ${binary}` };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { killed?: boolean; stderr?: string };
      const why = e.code === 'ENOENT' ? 'not found' : e.killed ? `no answer to --version within ${VERSION_TIMEOUT_MS / 1000} s` : (e.stderr?.trim().split('\n')[0] || e.message);
      return { check: 'claude', status: 'fail', detail: `${binary}: ${why}`, fix: 'npm ci in the package (it pins @anthropic-ai/claude-code), or set agent.executor.binary in cluster.yml' };
    }
  }));
}

function pinnedClaudeVersion(): string | undefined {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const spec = pkg.dependencies?.['@anthropic-ai/claude-code'];
  return spec && /^\d+\.\d+\.\d+$/.test(spec) ? spec : undefined;
}

async function checkGit(env: Env): Promise<Check> {
  try {
    const { stdout } = await run('git', ['--version'], { timeout: VERSION_TIMEOUT_MS, env: { PATH: env.PATH } });
    return { check: 'git', status: 'ok', detail: stdout.trim() };
  } catch (err) {
    return { check: 'git', status: 'fail', detail: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found on PATH' : (err as Error).message, fix: 'install git (apt-get install git)' };
  }
}

async function checkCoordinator(deps: DoctorDeps): Promise<{ check: Check; api?: ApiClient }> {
  const fix = 'start it (ccc up, or systemctl start ccc-coordinator), or point --url / CCC_COORDINATOR_URL at it';
  if (deps.connection instanceof CliError) return { check: { check: 'coordinator', status: 'fail', detail: deps.connection.message, fix } };
  const connection = deps.connection;
  const api = new ApiClient(connection, deps.fetchImpl);
  try {
    await api.health();
    return { api, check: { check: 'coordinator', status: 'ok', detail: `${connection.url} answers /healthz (URL from ${connection.urlSource})` } };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { check: { check: 'coordinator', status: 'fail', detail: `${connection.url} (from ${connection.urlSource}): ${err.reason}`, fix } };
  }
}

async function checkToken(deps: DoctorDeps, api: ApiClient | undefined): Promise<Check> {
  const { connection } = deps;
  if (connection instanceof CliError) return { check: 'token', status: 'skip', detail: 'not checked: no coordinator to ask' };
  if (!connection.hasToken) {
    return { check: 'token', status: 'fail', detail: `none found (looked at --token, CCC_ADMIN_TOKEN and ${connection.tokenSource})`, fix: 'pass --token, set CCC_ADMIN_TOKEN, or run ccc up (it makes one)' };
  }
  if (!api) return { check: 'token', status: 'skip', detail: `not checked: the coordinator is unreachable (token from ${connection.tokenSource})` };
  try {
    const { agents } = await api.get<{ agents: AgentView[] }>('/agents');
    const online = agents.filter((a) => a.state === 'online').length;
    return { check: 'token', status: 'ok', detail: `accepted (from ${connection.tokenSource}); ${agents.length} agents registered, ${online} online` };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    if (err.exitCode === EXIT.refused) {
      return { check: 'token', status: 'fail', detail: `refused (from ${connection.tokenSource})`, fix: `use the CCC_ADMIN_TOKEN the coordinator was started with (${TOKEN_WHERE})` };
    }
    if (err.exitCode === EXIT.usage) return { check: 'token', status: 'fail', detail: err.message, fix: 'pass a valid --token or CCC_ADMIN_TOKEN' };
    return { check: 'token', status: 'fail', detail: err.reason };
  }
}

/** Free space where the cluster keeps its state (ccc up's directory, or CCC_DATA_DIR). */
async function checkDisk(env: Env): Promise<Check> {
  let dir = resolve(upDir(env));
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    const detail = `${(free / GiB).toFixed(1)} GiB free at ${dir}`;
    return free < LOW_DISK_BYTES
      ? { check: 'disk', status: 'warn', detail: `${detail} (under 1 GiB)`, fix: 'free some space, or set CCC_DATA_DIR to a larger disk' }
      : { check: 'disk', status: 'ok', detail };
  } catch (err) {
    return { check: 'disk', status: 'warn', detail: `cannot read free space at ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
}
