/**
 * The agent's side of identity: its own credential in <CCC_DATA_DIR>/agent-credential (0600),
 * received once when it enrolled with the join token (CCC_AGENT_TOKEN) and presented on every
 * connection after that. Neither is ever logged.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../shared/log.js';

export const CREDENTIAL_FILE = 'agent-credential';
const CREDENTIAL_SHAPE = /^ccca_[A-Za-z0-9_-]{20,190}$/;

export class AgentCredential {
  readonly file: string;
  private credential: string | undefined;
  /** Set after the coordinator refused the stored credential: the next attempt enrolls with the join token. */
  private enrollNext = false;

  constructor(private readonly opts: { dataDir: string; joinToken: string | undefined; log: Logger }) {
    this.file = join(opts.dataDir, CREDENTIAL_FILE);
    this.credential = this.read();
  }

  /** True when the next connection enrolls (no credential yet, or the last one was refused). */
  get enrolling(): boolean {
    return this.credential === undefined || this.enrollNext;
  }

  /** The bearer token for the next connection: the agent's credential, else the join token. */
  bearer(): string {
    if (!this.enrolling) return this.credential!;
    if (!this.opts.joinToken) {
      throw new Error(`no credential in ${this.file} and no CCC_AGENT_TOKEN to enroll with: set CCC_AGENT_TOKEN to the cluster's join token`);
    }
    return this.opts.joinToken;
  }

  /** Keeps the credential the welcome brought (only an enrollment brings one). */
  received(credential: string | undefined): void {
    if (credential === undefined) return;
    mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${credential}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
    this.credential = credential;
    this.enrollNext = false;
    this.opts.log.info({ file: this.file }, 'enrolled: the coordinator issued this agent its own credential');
  }

  /** The coordinator answered 401: says what to do, and decides what the next attempt presents. */
  refused(): string {
    if (this.enrolling) return 'the coordinator refused the join token: set CCC_AGENT_TOKEN to the cluster\'s join token (CCC_AGENT_TOKEN in the coordinator\'s env file)';
    if (this.opts.joinToken) {
      this.enrollNext = true;
      return `the coordinator refused this agent's credential (${this.file}; revoked?): trying to enroll again with the join token, which works once an operator runs \`ccc agents allow-enroll\``;
    }
    return `the coordinator refused this agent's credential (${this.file}; revoked?): an operator runs \`ccc agents allow-enroll\`, and this agent needs CCC_AGENT_TOKEN to enroll again`;
  }

  private read(): string | undefined {
    if (!existsSync(this.file)) return undefined;
    const mode = statSync(this.file).mode & 0o777;
    if (mode & 0o077) {
      chmodSync(this.file, 0o600);
      this.opts.log.warn({ file: this.file, mode: mode.toString(8) }, 'the credential file was readable by others; made it 0600');
    }
    const text = readFileSync(this.file, 'utf8').trim();
    if (CREDENTIAL_SHAPE.test(text)) return text;
    this.opts.log.warn({ file: this.file }, 'the credential file does not hold an agent credential; moved aside, enrolling again');
    renameSync(this.file, `${this.file}.bad`);
    rmSync(`${this.file}.tmp`, { force: true });
    return undefined;
  }
}
