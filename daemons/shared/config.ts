/**
 * Loads config/cluster.yml and applies the CCC_* environment overrides, in one place.
 * Nothing else reads process.env: callers pass `env`, so tests pass their own.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { CccError } from './errors.js';
import { packageRoot } from './package-root.js';
import { clusterSchema, type AgentNode, type Cluster } from './cluster-schema.js';
import { privateKeyLines, readGitHubApp, type GitHubAppCredentials } from './github-app-key.js';

export type Env = Record<string, string | undefined>;

export interface Settings {
  /** Absolute path of the cluster.yml that was read. */
  configFile: string;
  cluster: Cluster;
  /** Where this process keeps its state (SQLite, workspaces). */
  dataDir: string;
  /** Where the coordinator listens. */
  listen: { host: string; port: number };
  /** How agents and the CLI reach the coordinator (http://host:port). */
  coordinatorUrl: string;
  agentId: string | undefined;
  adminToken: string | undefined;
  agentToken: string | undefined;
  webhookSecret: string | undefined;
  /** Coordinator only: the token its Octokit client uses. */
  githubToken: string | undefined;
  /** Coordinator only: the GitHub App it authenticates as (CCC_GITHUB_APP_ID, CCC_GITHUB_APP_PRIVATE_KEY_FILE). */
  githubApp: GitHubAppCredentials | undefined;
  githubApiUrl: string;
  gitUrlTemplate: string;
  triggerLabel: string;
  /** Agent only: where the Claude Code CLI sends its API calls (a gateway, or the rehearsal model). */
  anthropicBaseUrl: string | undefined;
  /** Agent only: the password git offers when pushing over HTTPS (username x-access-token). */
  gitPushToken: string | undefined;
  /** Agent only: the Anthropic credential the model relay adds (ANTHROPIC_API_KEY, its own name); the CLI never sees it. */
  anthropicApiKey: string | undefined;
  /** Agent only: ANTHROPIC_AUTH_TOKEN (sent as a bearer token), when there is no API key. */
  anthropicAuthToken: string | undefined;
  /** Agent only: CCC_EGRESS_ALLOW (comma-separated host[:port]), replacing agent.egress.allow. */
  egressAllow: string[] | undefined;
  logLevel: string;
  /** Source address for an agent's connection (ccc up binds 127.0.0.11–14). */
  agentSourceAddress: string | undefined;
  /** Coordinator only: its TLS certificate and key files (HTTPS/WSS when both are set). */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** Agents and the CLI: the CA file the coordinator's certificate is verified against. */
  tlsCa: string | undefined;
}

export const defaultConfigFile = join(packageRoot, 'config', 'cluster.yml');

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const token = z
  .string()
  .min(16, 'is too short: use at least 16 characters, e.g. `openssl rand -hex 32`')
  .regex(/^[A-Za-z0-9._~+/=-]+$/, 'may hold only letters, digits and . _ ~ + / = -');

/** Reads and validates a cluster.yml; every problem names the file, the key and what is expected. */
export function readCluster(file: string): Cluster {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CccError(`${file}: cannot read the cluster config (${(err as NodeJS.ErrnoException).code ?? String(err)}). Set CCC_CONFIG to the path of cluster.yml.`, 'config');
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const reason = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const line = first.linePos?.[0].line;
    const source = line ? ` at line ${line}: "${text.split('\n')[line - 1]?.trim()}"` : '';
    throw new CccError(`${file}: not valid YAML: ${reason}${source}`, 'config');
  }
  const parsed = clusterSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new CccError(describeIssues(file, parsed.error), 'config');
  return parsed.data;
}

/** One line per problem: `file: key.path: what is expected`. */
export function describeIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((issue) => `${source}: ${formatPath(issue.path) || '(top level)'}: ${issue.message}`);
  return lines.join('\n');
}

function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Settings for one process: cluster.yml plus the CCC_* environment variables. */
export function loadSettings(env: Env = process.env, role: 'coordinator' | 'agent' | 'cli' = 'cli'): Settings {
  const configFile = resolve(env.CCC_CONFIG || defaultConfigFile);
  const cluster = readCluster(configFile);
  const check = <T>(name: string, schema: z.ZodType<T>, value: string | undefined): T | undefined => {
    if (value === undefined || value === '') return undefined;
    const r = schema.safeParse(value);
    if (!r.success) throw new CccError(`environment: ${name} ${r.error.issues[0]!.message}`, 'config');
    return r.data;
  };
  const agentId = check('CCC_AGENT_ID', z.string().refine((id) => cluster.agents.some((a) => a.name === id), {
    message: `must name an agent of ${configFile}: one of ${cluster.agents.map((a) => a.name).join(', ')}`,
  }), env.CCC_AGENT_ID);
  const listen = parseListen(env.CCC_LISTEN, cluster.coordinator.port);
  const logLevel = check('CCC_LOG_LEVEL', z.enum(logLevels, { message: `must be one of ${logLevels.join(', ')}` }), env.CCC_LOG_LEVEL) ?? 'info';
  const coordinatorUrl = check('CCC_COORDINATOR_URL', z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL such as http://192.168.56.10:8080' }), env.CCC_COORDINATOR_URL)
    ?? `http://${cluster.coordinator.ip}:${cluster.coordinator.port}`;
  // systemd sets STATE_DIRECTORY to a colon-separated list when a unit names several.
  const defaultDataDir = env.STATE_DIRECTORY?.split(':')[0] || join(packageRoot, '.ccc', role === 'agent' && agentId ? `agent-${agentId}` : role);
  return {
    configFile,
    cluster,
    dataDir: resolve(env.CCC_DATA_DIR || defaultDataDir),
    listen,
    coordinatorUrl: coordinatorUrl.replace(/\/+$/, ''),
    agentId,
    adminToken: check('CCC_ADMIN_TOKEN', token, env.CCC_ADMIN_TOKEN),
    agentToken: check('CCC_AGENT_TOKEN', token, env.CCC_AGENT_TOKEN),
    webhookSecret: check('CCC_WEBHOOK_SECRET', token, env.CCC_WEBHOOK_SECRET),
    githubToken: check('CCC_GITHUB_TOKEN', z.string().regex(/^\S{8,}$/, 'must be a GitHub token without spaces'), env.CCC_GITHUB_TOKEN),
    githubApp: role !== 'coordinator' ? undefined : readGitHubApp(env.CCC_GITHUB_APP_ID || undefined, env.CCC_GITHUB_APP_PRIVATE_KEY_FILE || undefined),
    githubApiUrl: (check('CCC_GITHUB_API_URL', z.url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://github.example.com/api/v3' }), env.CCC_GITHUB_API_URL) ?? cluster.github.apiUrl).replace(/\/+$/, ''),
    gitUrlTemplate: check('CCC_GIT_URL_TEMPLATE', z.string().refine((t) => t.includes('{owner}') && t.includes('{repo}'), 'must contain {owner} and {repo}'), env.CCC_GIT_URL_TEMPLATE) ?? cluster.github.gitUrlTemplate,
    anthropicBaseUrl: check('CCC_ANTHROPIC_BASE_URL', z.url({ protocol: /^https?$/, message: 'must be an http(s) URL such as http://127.0.0.1:8090' }), env.CCC_ANTHROPIC_BASE_URL),
    gitPushToken: check('CCC_GIT_PUSH_TOKEN', z.string().regex(/^\S{8,}$/, 'must be a token without spaces (8 characters or more)'), env.CCC_GIT_PUSH_TOKEN),
    anthropicApiKey: env.ANTHROPIC_API_KEY || undefined,
    anthropicAuthToken: env.ANTHROPIC_AUTH_TOKEN || undefined,
    egressAllow: env.CCC_EGRESS_ALLOW === undefined ? undefined : env.CCC_EGRESS_ALLOW.split(',').map((p) => p.trim()).filter(Boolean),
    triggerLabel: check('CCC_TRIGGER_LABEL', z.string().min(1).max(50), env.CCC_TRIGGER_LABEL) ?? cluster.github.triggerLabel,
    logLevel,
    agentSourceAddress: check('CCC_AGENT_SOURCE_ADDRESS', z.ipv4({ message: 'must be an IPv4 address such as 127.0.0.11' }), env.CCC_AGENT_SOURCE_ADDRESS),
    tlsCert: env.CCC_TLS_CERT ? resolve(env.CCC_TLS_CERT) : undefined,
    tlsKey: env.CCC_TLS_KEY ? resolve(env.CCC_TLS_KEY) : undefined,
    tlsCa: env.CCC_TLS_CA ? resolve(env.CCC_TLS_CA) : undefined,
  };
}

function parseListen(value: string | undefined, defaultPort: number): { host: string; port: number } {
  if (!value) return { host: '0.0.0.0', port: defaultPort };
  // An IPv6 address goes in brackets, as in a URL: [::1]:7700.
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new CccError(`environment: CCC_LISTEN must be host:port or port, such as 127.0.0.1:8080 or [::1]:8080 (got "${value}")`, 'config');
  }
  return { host: m[1]?.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
}

/** The agent node this process is, or a clear error saying how to choose one. */
export function agentNode(settings: Settings): AgentNode {
  const node = settings.cluster.agents.find((a) => a.name === settings.agentId);
  if (!node) {
    throw new CccError(`CCC_AGENT_ID is not set: say which agent of ${settings.configFile} this is (${settings.cluster.agents.map((a) => a.name).join(', ')})`, 'config');
  }
  return node;
}

/** Every secret this process knows, for the logger to scrub. */
export function secretValues(settings: Settings): Array<string | undefined> {
  return [settings.adminToken, settings.agentToken, settings.webhookSecret, settings.githubToken, settings.gitPushToken, settings.anthropicApiKey, settings.anthropicAuthToken, ...privateKeyLines(settings.githubApp)];
}

/** A required secret, or an error naming the variable to set. */
export function requireSecret(settings: Settings, key: 'adminToken' | 'agentToken', variable: string): string {
  const value = settings[key];
  if (!value) throw new CccError(`${variable} is not set: put it in the environment (on a provisioned node: /etc/ccc/*.env), or run \`ccc up\`, which makes one`, 'config');
  return value;
}
