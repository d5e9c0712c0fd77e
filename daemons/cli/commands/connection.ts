/**
 * Where the coordinator is and which admin token to send, in one place:
 * the --url/--token flags, else CCC_COORDINATOR_URL/CCC_ADMIN_TOKEN, else
 * what `ccc up` left in its state directory, else cluster.yml's address.
 */
import { existsSync, readFileSync } from 'node:fs';
import { defaultConfigFile, readCluster, type Env } from '../../shared/config.js';
import { loadTrust, type TlsTrust } from '../../shared/tls.js';
import { loopbackFor } from '../local-cluster.js';
import { CliError, EXIT } from './api-client.js';
import { readUpToken, readUpUrl, upDir, upSecretsFile, upUrlFile } from './up-files.js';

export interface ConnectionFlags {
  url?: string | undefined;
  token?: string | undefined;
}

/** The port `ccc up` listens on unless told otherwise. */
const UP_DEFAULT_PORT = 8080;
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]+$/;

export class Connection {
  constructor(
    readonly url: string,
    /** Where the URL came from, for messages: `--url`, a variable, a file. */
    readonly urlSource: string,
    private readonly token: string | undefined,
    /** Where the token came from; the token itself is never printed. */
    readonly tokenSource: string,
    /** The cluster CA (CCC_TLS_CA) an https:// coordinator is verified against. */
    readonly trust?: TlsTrust | undefined,
  ) {}

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  /** The token, or a usage error (exit 2) saying how to give one. */
  requireToken(): string {
    if (this.token === undefined) {
      throw new CliError(`no admin token: pass --token, set CCC_ADMIN_TOKEN, or run ccc up (it keeps one in ${this.tokenSource})`, EXIT.usage);
    }
    if (this.token === '') throw new CliError(`the admin token from ${this.tokenSource} is empty`, EXIT.usage);
    if (!TOKEN_CHARS.test(this.token)) {
      throw new CliError(`the admin token from ${this.tokenSource} holds characters a token cannot have (letters, digits and . _ ~ + / = - only)`, EXIT.usage);
    }
    return this.token;
  }
}

export function resolveConnection(flags: ConnectionFlags, env: Env): Connection {
  const dir = upDir(env);
  const [url, urlSource] = pickUrl(flags, env, dir);
  const fromFile = readSafely(() => readUpToken(dir), upSecretsFile(dir));
  const [token, tokenSource] = flags.token === '-' ? [readSafely(() => readFileSync(0, 'utf8').split('\n')[0]!.trim(), 'stdin'), 'stdin']
    : flags.token !== undefined ? [flags.token, '--token']
    : env.CCC_ADMIN_TOKEN ? [env.CCC_ADMIN_TOKEN, 'CCC_ADMIN_TOKEN']
      : [fromFile, upSecretsFile(dir)];
  const trust = readSafely(() => loadTrust(env.CCC_TLS_CA), 'CCC_TLS_CA');
  return new Connection(checkUrl(url, urlSource), urlSource, token, tokenSource, trust);
}

function pickUrl(flags: ConnectionFlags, env: Env, dir: string): [string, string] {
  if (flags.url !== undefined) return [flags.url, '--url'];
  if (env.CCC_COORDINATOR_URL) return [env.CCC_COORDINATOR_URL, 'CCC_COORDINATOR_URL'];
  const written = readSafely(() => readUpUrl(dir), upUrlFile(dir));
  if (written) return [written, upUrlFile(dir)];
  const configFile = env.CCC_CONFIG || defaultConfigFile;
  const { coordinator } = readCluster(configFile);
  // A ccc up ran here (it made secrets.env): its coordinator is on loopback, not on the VM address.
  if (existsSync(upSecretsFile(dir))) return [`http://${loopbackFor(coordinator.ip)}:${UP_DEFAULT_PORT}`, 'the ccc up default'];
  return [`http://${coordinator.ip}:${coordinator.port}`, configFile];
}

function checkUrl(url: string, source: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch { /* reported below */ }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
    throw new CliError(`the coordinator URL from ${source} must be an http:// or https:// URL such as http://192.168.56.10:8080 (got "${url}")`, EXIT.usage);
  }
  return url.replace(/\/+$/, '');
}

function readSafely<T>(read: () => T, file: string): T {
  try {
    return read();
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, EXIT.usage);
  }
}
