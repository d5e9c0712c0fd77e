/**
 * Who may connect, decided in two steps: at the HTTP upgrade the bearer token must be the join
 * token or a known agent credential (else 401); at the hello the claimed id must fit that token,
 * cluster.yml and the enrollment record. A refusal touches nothing, so the agent really holding
 * the id stays connected.
 */
import { tokenMatches } from '../../shared/auth.js';
import type { Cluster } from '../../shared/cluster-schema.js';
import type { Logger } from '../../shared/log.js';
import type { Hello } from '../../shared/protocol.js';
import type { CredentialStore } from './credential-store.js';

/** What the upgrade's bearer token proved. */
export type Presented = { kind: 'join' } | { kind: 'credential'; agentId: string };

export type Admission =
  | { ok: true; specialties: string[]; capacity: number; credential?: string }
  | { ok: false; code: string; message: string };

export interface AdmissionOptions {
  joinToken: string;
  cluster: Cluster;
  credentials: CredentialStore;
  log: Logger;
}

export class Gatekeeper {
  constructor(private readonly opts: AdmissionOptions) {}

  /** The upgrade's token: the join token, an agent's credential, or nothing this coordinator knows. */
  authenticate(token: string | undefined): Presented | undefined {
    if (token === undefined) return undefined;
    const agentId = this.opts.credentials.agentOf(token);
    if (agentId !== undefined) return { kind: 'credential', agentId };
    return tokenMatches(token, this.opts.joinToken) ? { kind: 'join' } : undefined;
  }

  /** Decides a hello; on enrollment the result carries the new credential, to be sent once in the welcome. */
  admit(presented: Presented, hello: Hello, address: string | null): Admission {
    const verdict = this.decide(presented, hello);
    if (!verdict.ok) {
      this.opts.log.warn({ agentId: hello.agentId, address, presented: presented.kind, code: verdict.code, reason: verdict.message }, 'agent refused');
      return verdict;
    }
    if (presented.kind === 'join') {
      const credential = this.opts.credentials.enroll(hello.agentId);
      this.opts.log.info({ agentId: hello.agentId, address }, 'agent enrolled: issued its own credential');
      return { ...verdict, credential };
    }
    this.opts.credentials.touch(hello.agentId);
    return verdict;
  }

  private decide(presented: Presented, hello: Hello): Admission {
    const id = hello.agentId;
    if (presented.kind === 'credential' && presented.agentId !== id) {
      return refuse('identity_mismatch', `this credential belongs to agent ${presented.agentId}, not ${id}`);
    }
    if (presented.kind === 'join') {
      const enrollment = this.opts.credentials.enrollment(id);
      if (enrollment?.enrolled && !enrollment.enrollAllowed) {
        return refuse('already_enrolled', `agent ${id} is already enrolled: connect with its own credential (agent-credential in its CCC_DATA_DIR); to enroll it anew an operator runs \`ccc agents allow-enroll ${id}\``);
      }
      if (enrollment && !enrollment.enrollAllowed) {
        return refuse('enroll_not_allowed', `agent ${id} was revoked: it may enroll again after \`ccc agents allow-enroll ${id}\``);
      }
    }
    const node = this.opts.cluster.agents.find((a) => a.name === id);
    if (!node) {
      if (this.opts.cluster.coordinator.allowUnlistedAgents) return { ok: true, specialties: hello.specialties, capacity: hello.capacity };
      return refuse('unknown_agent', `agent ${id} is not in the coordinator's cluster.yml (agents: ${this.opts.cluster.agents.map((a) => a.name).join(', ')})`);
    }
    const claimed = [...hello.specialties].sort().join(',');
    const configured = [...node.specialties].sort().join(',');
    if (claimed !== configured || hello.capacity !== node.capacity) {
      return refuse('config_mismatch', `agent ${id} claims specialties ${claimed} and capacity ${hello.capacity}, but the coordinator's cluster.yml says ${configured} and ${node.capacity}: give both machines the same cluster.yml`);
    }
    return { ok: true, specialties: node.specialties, capacity: node.capacity };
  }
}

function refuse(code: string, message: string): Admission {
  return { ok: false, code, message };
}
