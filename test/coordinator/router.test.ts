/** pickAgent: specialty match, capacity, least loaded / longest idle / id, and the fallback after a wait. */
import { describe, expect, it } from 'vitest';
import { pickAgent, type Candidate } from '../../daemons/coordinator/router.js';

const NOW = 1_700_000_000_000;
const agent = (id: string, specialties: string[], c: Partial<Candidate> = {}): Candidate => ({
  id, specialties, capacity: 2, running: 0, idleSince: NOW - 60_000, ...c,
});
const backend = (c: Partial<Candidate> = {}) => agent('backend', ['backend', 'api', 'database', 'python'], c);
const frontend = (c: Partial<Candidate> = {}) => agent('frontend', ['frontend', 'react', 'typescript', 'ui'], c);
const testing = (c: Partial<Candidate> = {}) => agent('testing', ['testing', 'qa', 'pytest', 'jest', 'e2e'], c);
const devops = (c: Partial<Candidate> = {}) => agent('devops', ['devops', 'docker', 'kubernetes', 'ci', 'infrastructure'], c);
const cluster = () => [backend(), frontend(), testing(), devops()];
const queued = (specialty: string, waitedMs = 0) => ({ specialty, queuedAt: NOW - waitedMs });

describe('specialty match', () => {
  it('picks the agent that has the specialty', () => {
    expect(pickAgent(queued('backend'), cluster(), NOW, 0)?.agentId).toBe('backend');
    expect(pickAgent(queued('react'), cluster(), NOW, 0)?.agentId).toBe('frontend');
    expect(pickAgent(queued('pytest'), cluster(), NOW, 0)?.agentId).toBe('testing');
    expect(pickAgent(queued('kubernetes'), cluster(), NOW, 0)?.agentId).toBe('devops');
  });

  it('the reason names the agent, the specialty, how many were eligible and the load', () => {
    const route = pickAgent(queued('database'), [backend({ running: 1 }), frontend()], NOW, 0)!;
    expect(route).toEqual({ agentId: 'backend', reason: 'backend has database; least loaded of 1 eligible (1/2 running)' });
  });

  it('no agent with the specialty → undefined (no fallback configured)', () => {
    expect(pickAgent(queued('rust'), cluster(), NOW, 0)).toBeUndefined();
  });

  it('no candidates at all → undefined, even for general and after the wait', () => {
    expect(pickAgent(queued('backend', 10 * 60_000), [], NOW, 1_000)).toBeUndefined();
    expect(pickAgent(queued('general'), [], NOW, 0)).toBeUndefined();
  });
});

describe('capacity', () => {
  it('an agent running at capacity is excluded', () => {
    expect(pickAgent(queued('backend'), [backend({ running: 2 }), frontend()], NOW, 0)).toBeUndefined();
    expect(pickAgent(queued('backend'), [backend({ running: 3, capacity: 2 })], NOW, 0)).toBeUndefined();
  });

  it('one free slot is enough', () => {
    expect(pickAgent(queued('backend'), [backend({ running: 1 })], NOW, 0)?.agentId).toBe('backend');
  });

  it('a full specialist is skipped in favour of a free one with the same specialty', () => {
    const a = agent('api-1', ['api'], { running: 4, capacity: 4 });
    const b = agent('api-2', ['api'], { running: 3, capacity: 4 });
    expect(pickAgent(queued('api'), [a, b], NOW, 0)).toEqual({ agentId: 'api-2', reason: 'api-2 has api; least loaded of 1 eligible (3/4 running)' });
  });
});

describe('general', () => {
  it('fits any free agent, with a reason saying so', () => {
    const route = pickAgent(queued('general'), [devops({ running: 1 }), testing({ running: 0 })], NOW, 0)!;
    expect(route.agentId).toBe('testing');
    expect(route.reason).toBe('testing any agent fits general; least loaded of 2 eligible (0/2 running)');
  });

  it('still skips full agents', () => {
    expect(pickAgent(queued('general'), [backend({ running: 2 }), frontend({ running: 2 })], NOW, 0)).toBeUndefined();
    expect(pickAgent(queued('general'), [backend({ running: 2 }), frontend({ running: 1 })], NOW, 0)?.agentId).toBe('frontend');
  });
});

describe('ordering among eligible agents', () => {
  const twin = (id: string, c: Partial<Candidate>) => agent(id, ['api'], c);

  it('least loaded first', () => {
    const list = [twin('a', { running: 2, capacity: 4 }), twin('b', { running: 0, capacity: 4 }), twin('c', { running: 1, capacity: 4 })];
    expect(pickAgent(queued('api'), list, NOW, 0)?.agentId).toBe('b');
    expect(pickAgent(queued('api'), list, NOW, 0)?.reason).toContain('least loaded of 3 eligible (0/4 running)');
  });

  it('load is running/capacity, not the running count', () => {
    // 2 of 8 (25 %) is less loaded than 1 of 2 (50 %); 0 of anything is least.
    const big = twin('big', { running: 2, capacity: 8 });
    const small = twin('small', { running: 1, capacity: 2 });
    expect(pickAgent(queued('api'), [small, big], NOW, 0)?.agentId).toBe('big');
    expect(pickAgent(queued('api'), [big, small], NOW, 0)?.reason).toContain('(2/8 running)');
    expect(pickAgent(queued('api'), [big, small, twin('idle', { running: 0, capacity: 1 })], NOW, 0)?.agentId).toBe('idle');
    // Equal shares (1/2 and 2/4) fall through to the longest idle.
    const half = [twin('p', { running: 1, capacity: 2, idleSince: NOW - 1_000 }), twin('q', { running: 2, capacity: 4, idleSince: NOW - 9_000 })];
    expect(pickAgent(queued('api'), half, NOW, 0)?.agentId).toBe('q');
    // The fallback to any agent uses the same measure.
    const others = [agent('wide', ['web'], { running: 3, capacity: 12 }), agent('narrow', ['ops'], { running: 1, capacity: 2 })];
    expect(pickAgent(queued('api', 5_000), others, NOW, 1_000)?.agentId).toBe('wide');
  });

  it('load beats idle time', () => {
    const list = [twin('a', { running: 1, idleSince: 0 }), twin('b', { running: 0, idleSince: NOW })];
    expect(pickAgent(queued('api'), list, NOW, 0)?.agentId).toBe('b');
  });

  it('equal load → the one idle longest (smallest idleSince)', () => {
    const list = [twin('a', { idleSince: NOW - 1_000 }), twin('b', { idleSince: NOW - 5_000 }), twin('c', { idleSince: NOW - 3_000 })];
    expect(pickAgent(queued('api'), list, NOW, 0)?.agentId).toBe('b');
    expect(pickAgent(queued('api'), [...list].reverse(), NOW, 0)?.agentId).toBe('b');
  });

  it('equal load and idle time → by id', () => {
    const list = [twin('zeta', {}), twin('alpha', {}), twin('mid', {})];
    expect(pickAgent(queued('api'), list, NOW, 0)?.agentId).toBe('alpha');
    expect(pickAgent(queued('api'), [...list].reverse(), NOW, 0)?.agentId).toBe('alpha');
  });

  it('does not reorder the caller\'s array', () => {
    const list = [twin('b', { running: 1 }), twin('a', {})];
    pickAgent(queued('api'), list, NOW, 0);
    expect(list.map((c) => c.id)).toEqual(['b', 'a']);
  });
});

describe('fallback to any agent after a wait', () => {
  const onlyOthers = () => [frontend({ running: 1 }), testing({ running: 0, idleSince: NOW - 10_000 }), devops({ running: 0, idleSince: NOW - 20_000 })];

  it('is off when fallbackAfterMs is 0, however long the task waited', () => {
    expect(pickAgent(queued('backend', 24 * 3_600_000), onlyOthers(), NOW, 0)).toBeUndefined();
  });

  it('does not happen before the wait is over', () => {
    expect(pickAgent(queued('backend', 0), onlyOthers(), NOW, 30_000)).toBeUndefined();
    expect(pickAgent(queued('backend', 29_999), onlyOthers(), NOW, 30_000)).toBeUndefined();
  });

  it('happens once the wait is over, to the least loaded free agent of any specialty', () => {
    const route = pickAgent(queued('backend', 30_000), onlyOthers(), NOW, 30_000)!;
    // testing and devops both run 0; devops has been idle longer.
    expect(route.agentId).toBe('devops');
    expect(route.reason).toBe('no free agent has backend after 30 s; fallback to devops, least loaded of 3 (0/2 running)');
    expect(pickAgent(queued('backend', 95_400), onlyOthers(), NOW, 30_000)!.reason).toContain('after 95 s');
  });

  it('skips full agents when falling back', () => {
    const list = [frontend({ running: 2 }), testing({ running: 1 })];
    expect(pickAgent(queued('backend', 60_000), list, NOW, 30_000)?.agentId).toBe('testing');
    expect(pickAgent(queued('backend', 60_000), [frontend({ running: 2 })], NOW, 30_000)).toBeUndefined();
  });

  it('a free specialist is still preferred after the wait, even if busier than the others', () => {
    const list = [...onlyOthers(), backend({ running: 1 })];
    const route = pickAgent(queued('backend', 60_000), list, NOW, 30_000)!;
    expect(route.agentId).toBe('backend');
    expect(route.reason).toMatch(/^backend has backend;/);
  });

  it('a full specialist does not block the fallback', () => {
    const list = [backend({ running: 2 }), frontend({ running: 0 })];
    expect(pickAgent(queued('backend', 10_000), list, NOW, 30_000)).toBeUndefined();
    expect(pickAgent(queued('backend', 30_000), list, NOW, 30_000)?.agentId).toBe('frontend');
  });
});

describe('continuing work', () => {
  it('prefers the agent that ran the previous task on the branch when it fits and is free; else the usual choice', () => {
    const two = [{ id: 'b1', specialties: ['backend'], capacity: 2, running: 1, idleSince: 0 }, { id: 'b2', specialties: ['backend'], capacity: 2, running: 0, idleSince: 0 }];
    const task = { specialty: 'backend', queuedAt: NOW, preferAgent: 'b1' };
    expect(pickAgent(task, two, NOW, 0)).toMatchObject({ agentId: 'b1', reason: expect.stringContaining('ran the previous task on this branch') });
    expect(pickAgent(task, [{ ...two[0]!, running: 2 }, two[1]!], NOW, 0)?.agentId).toBe('b2');
    expect(pickAgent({ ...task, preferAgent: 'frontend' }, [...two, { id: 'frontend', specialties: ['frontend'], capacity: 2, running: 0, idleSince: 0 }], NOW, 0)?.agentId).toBe('b2');
  });
});
