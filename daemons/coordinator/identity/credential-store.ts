/**
 * Each agent's own credential: issued once at enrollment, stored only as a SHA-256 hash,
 * looked up by that hash, revoked by forgetting it. The credentials are 256 random bits, so a
 * plain hash is enough: there is nothing to guess that a slow hash would protect.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db.js';

/** Prefix of every agent credential, so one found in a log or a paste is recognised for what it is. */
export const CREDENTIAL_PREFIX = 'ccca_';

export interface Enrollment {
  enrolledAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** Whether the join token may enroll this id (again). */
  enrollAllowed: boolean;
  /** Whether a credential is valid for it now. */
  enrolled: boolean;
}

interface Row {
  agent_id: string; credential_hash: string | null; enrolled_at: number | null;
  last_used_at: number | null; revoked_at: number | null; enroll_allowed: number;
}

const hashOf = (credential: string) => createHash('sha256').update(credential).digest('hex');
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class CredentialStore {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /** The agent id a presented credential belongs to, or undefined. */
  agentOf(credential: string): string | undefined {
    if (!credential.startsWith(CREDENTIAL_PREFIX)) return undefined;
    return this.db.prepare<[string], { agent_id: string }>('SELECT agent_id FROM agent_credentials WHERE credential_hash = ?')
      .get(hashOf(credential))?.agent_id;
  }

  enrollment(agentId: string): Enrollment | undefined {
    const r = this.db.prepare<[string], Row>('SELECT * FROM agent_credentials WHERE agent_id = ?').get(agentId);
    return r && toEnrollment(r);
  }

  all(): Map<string, Enrollment> {
    const rows = this.db.prepare<[], Row>('SELECT * FROM agent_credentials').all();
    return new Map(rows.map((r) => [r.agent_id, toEnrollment(r)]));
  }

  /** Issues a new credential for `agentId` and keeps its hash; the caller hands it over once. */
  enroll(agentId: string): string {
    const credential = CREDENTIAL_PREFIX + randomBytes(32).toString('base64url');
    const now = this.now();
    this.db.prepare(`INSERT INTO agent_credentials (agent_id, credential_hash, enrolled_at, last_used_at, revoked_at, enroll_allowed)
                     VALUES (@id, @hash, @now, @now, NULL, 0)
                     ON CONFLICT (agent_id) DO UPDATE SET credential_hash = @hash, enrolled_at = @now, last_used_at = @now, revoked_at = NULL, enroll_allowed = 0`)
      .run({ id: agentId, hash: hashOf(credential), now });
    return credential;
  }

  /** Notes that the agent's credential was just used. */
  touch(agentId: string): void {
    this.db.prepare('UPDATE agent_credentials SET last_used_at = ? WHERE agent_id = ?').run(this.now(), agentId);
  }

  /** Forgets the agent's credential; with `allowReenroll` the join token may enroll the id again. */
  revoke(agentId: string, allowReenroll: boolean): void {
    this.db.prepare(`INSERT INTO agent_credentials (agent_id, credential_hash, revoked_at, enroll_allowed) VALUES (@id, NULL, @now, @allow)
                     ON CONFLICT (agent_id) DO UPDATE SET credential_hash = NULL, revoked_at = @now, enroll_allowed = @allow`)
      .run({ id: agentId, now: this.now(), allow: allowReenroll ? 1 : 0 });
  }

  /** Lets the join token enroll `agentId` once more (after a revoke, or to replace a lost credential). */
  allowEnroll(agentId: string): void {
    this.db.prepare(`INSERT INTO agent_credentials (agent_id, enroll_allowed) VALUES (?, 1)
                     ON CONFLICT (agent_id) DO UPDATE SET enroll_allowed = 1`).run(agentId);
  }
}

function toEnrollment(r: Row): Enrollment {
  return {
    enrolledAt: iso(r.enrolled_at), lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at),
    enrollAllowed: r.enroll_allowed === 1, enrolled: r.credential_hash !== null,
  };
}
