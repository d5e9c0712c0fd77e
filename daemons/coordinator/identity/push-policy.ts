/**
 * What an agent may push to the local forge: only the `ccc/<n>-…` branches of the tasks it holds
 * now (n is the task's issue number, or its id), or the branch a task it holds continues (a
 * follow-up on a pull request), in that task's repository. The refs a push wants
 * to change are read from the start of git's receive-pack request, before git sees any of it.
 */
import type { Readable } from 'node:stream';
import type { TaskStore } from '../task-store.js';

/** Largest command section read (the refs of one push); a pack follows it. */
const MAX_COMMANDS_BYTES = 256 * 1024;

/** The branches (without refs/heads/) an agent may push to in a repository. */
export interface Pushable {
  /** `ccc/<n>-`: any branch that starts so (and goes on). */
  prefixes: string[];
  /** Branches its tasks continue. */
  exact: string[];
}

export function pushableBranches(store: TaskStore, agentId: string, repo: string): Pushable {
  const rows = store.activeOf(agentId).filter((row) => row.repo === repo);
  return {
    prefixes: rows.map((row) => `ccc/${row.issue_number ?? row.id}-`),
    exact: rows.flatMap((row) => (row.branch ? [row.branch] : [])),
  };
}

/** Why pushing `refs` is refused, or undefined when every one is allowed. */
export function refusedRef(refs: string[], allowed: Pushable): string | undefined {
  return refs.find((ref) => {
    const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
    if (branch === undefined) return true;
    return !allowed.exact.includes(branch) && !allowed.prefixes.some((p) => branch.startsWith(p) && branch.length > p.length);
  });
}

/**
 * Reads the pkt-lines of a receive-pack request up to its flush packet and returns the refs it
 * updates; what was read is put back, so the request can then be piped on unchanged.
 */
export function readPushedRefs(req: Readable): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const finish = (result: string[] | Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEnd);
      req.pause();
      if (buffered.length) req.unshift(buffered);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const parsed = tryParse(buffered);
      if (parsed) finish(parsed);
      else if (buffered.length > MAX_COMMANDS_BYTES) finish(new Error('the push names too many refs'));
    };
    const onEnd = () => finish(tryParse(buffered) ?? new Error('the push request ended before its list of refs'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onEnd);
  });
}

function tryParse(data: Buffer): string[] | Error | undefined {
  try {
    return parseCommands(data);
  } catch (err) {
    return err as Error;
  }
}

/** The refs of the command list, or undefined while the flush packet has not arrived yet. */
export function parseCommands(data: Buffer): string[] | undefined {
  const refs: string[] = [];
  for (let at = 0; at + 4 <= data.length;) {
    const length = Number.parseInt(data.subarray(at, at + 4).toString('latin1'), 16);
    if (!Number.isInteger(length)) throw new Error('not a git pkt-line');
    if (length === 0) return refs;
    if (length < 4) throw new Error('not a git pkt-line');
    if (at + length > data.length) return undefined;
    const line = data.subarray(at + 4, at + length).toString('utf8').split('\0')[0]!.replace(/\n$/, '');
    at += length;
    if (line.startsWith('shallow ')) continue;
    const parts = line.split(' ');
    if (parts.length !== 3) throw new Error(`not a ref update: "${line.slice(0, 80)}"`);
    refs.push(parts[2]!);
  }
  return undefined;
}
