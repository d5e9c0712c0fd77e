/** AgentRegistry: rows of agent ids not in cluster.yml are pruned once offline for long; listed ones stay. */
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { AgentRegistry, FORGET_UNLISTED_AFTER_MS } from '../../daemons/coordinator/agent-registry.js';
import { openDb } from '../../daemons/coordinator/db.js';
import type { Hello } from '../../daemons/shared/protocol.js';
import { onCleanup, tempDir } from '../helpers.js';

const T0 = Date.UTC(2030, 0, 1);
const DAY = 24 * 60 * 60 * 1000;

function hello(agentId: string): Hello {
  return { type: 'hello', protocol: 1, agentId, hostname: `${agentId}.lan`, version: '1.0.0', specialties: ['general'], capacity: 1 } as unknown as Hello;
}
// register() only keeps the socket to compare it later; no frame is sent in these tests.
const socket = (name: string) => ({ name }) as unknown as WebSocket;

describe('AgentRegistry pruning of unlisted agents', () => {
  it('forgets unlisted offline agents after FORGET_UNLISTED_AFTER_MS, keeps listed, connected and drained ones', () => {
    const file = join(tempDir(), 'db.sqlite');
    const db = openDb(file);
    onCleanup(() => { if (db.open) db.close(); });
    const clock = { t: T0 };
    const registry = new AgentRegistry(db, () => clock.t, new Set(['backend']));
    const sockets = new Map<string, WebSocket>();
    for (const id of ['backend', 'stray-1', 'stray-2', 'stray-drained', 'stray-connected']) {
      sockets.set(id, socket(id));
      registry.register(hello(id), '127.0.0.1', sockets.get(id)!);
    }
    registry.setAdminDraining('stray-drained', true);
    for (const id of ['backend', 'stray-1', 'stray-2', 'stray-drained']) registry.disconnect(id, sockets.get(id)!);

    clock.t += FORGET_UNLISTED_AFTER_MS - DAY;
    registry.register(hello('stray-new'), null, socket('stray-new'));
    expect(registry.list(new Map()).map((a) => a.id)).toEqual(['backend', 'stray-1', 'stray-2', 'stray-connected', 'stray-drained', 'stray-new']);

    clock.t += 2 * DAY;
    registry.register(hello('backend'), null, socket('backend-2'));
    expect(registry.list(new Map()).map((a) => a.id)).toEqual(['backend', 'stray-connected', 'stray-drained', 'stray-new']);

    // At start, too: a coordinator restarted later prunes what went offline meanwhile (nothing is connected then).
    db.close();
    clock.t += FORGET_UNLISTED_AFTER_MS + DAY;
    const reopened = openDb(file);
    onCleanup(() => { if (reopened.open) reopened.close(); });
    const after = new AgentRegistry(reopened, () => clock.t, new Set(['backend']));
    expect(after.list(new Map()).map((a) => a.id)).toEqual(['backend', 'stray-drained']);
  });
});
