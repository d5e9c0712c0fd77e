/**
 * fast-check arbitraries that start from real inputs (GitHub's example
 * payloads, real protocol frames) and break them: values replaced by hostile
 * or random JSON, fields dropped or added, types swapped, text cut or
 * sprinkled with bytes that are not UTF-8.
 */
import fc from 'fast-check';
import { ADMIN_TOKEN, AGENT_TOKEN } from '../helpers.js';
import { SECRET } from '../github-webhooks.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = Array<string | number>;

/** Strings that have broken parsers, shells, git and paths before; the secrets, to prove they are never echoed. */
export const NASTY_STRINGS = [
  '', ' ', '-x', '--upload-pack=touch /tmp/ccc-pwned', '--exec=id', '-oProxyCommand=id', '../../etc/passwd', '..', '.', '/', 'a/b/c',
  'owner/repo\n', 'owner/repo --upload-pack=x', 'a/..', '-a/b', 'a/-b', 'a\nb', 'a\r\nTitle: injected\nSpecialty: devops', '\u0000', '\u2028',
  '$(id)', '`id`', '; rm -rf /', '<script>alert(1)</script>', '%00', '\uFEFF', 'ccc', 'CCC', 'ccc:backend', '/ccc run', '/ccc cancel',
  'OWNER', 'NONE', 'closed', 'x'.repeat(70_000), 'é'.repeat(600), '😀'.repeat(300), ADMIN_TOKEN, AGENT_TOKEN, SECRET,
];

const NASTY_NUMBERS = [0, -1, 1, 1.5, -0, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER + 2];

/** Any JSON value, biased towards the hostile ones. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: fc.constantFrom<Json>(...NASTY_STRINGS), weight: 4 },
  { arbitrary: fc.constantFrom<Json>(...NASTY_NUMBERS), weight: 2 },
  { arbitrary: fc.constantFrom<Json>(null, true, false, [], {}, [[[[[[]]]]]], { name: 'ccc' }, [{ name: 'ccc' }]), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
);

/** Every path in `value` (objects and arrays, up to `depth` levels). */
export function pathsOf(value: Json, depth = 6, prefix: Path = []): Path[] {
  if (depth === 0 || value === null || typeof value !== 'object') return [];
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return keys.flatMap((k) => [[...prefix, k], ...pathsOf((value as Record<string | number, Json>)[k]!, depth - 1, [...prefix, k])]);
}

type Mutation =
  | { op: 'set'; path: Path; value: Json }
  | { op: 'delete'; path: Path }
  | { op: 'add'; path: Path; key: string; value: Json }
  | { op: 'wrap'; path: Path };

function parentOf(root: Json, path: Path): Record<string | number, Json> | undefined {
  let node: Json = root;
  for (const k of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, Json>)[k]!;
  }
  return node !== null && typeof node === 'object' ? (node as Record<string | number, Json>) : undefined;
}

function apply(root: Json, m: Mutation): Json {
  if (m.path.length === 0) return m.op === 'set' ? m.value : root;
  const parent = parentOf(root, m.path);
  const key = m.path.at(-1)!;
  if (!parent || !(key in parent)) return root;
  if (m.op === 'set') parent[key] = m.value;
  else if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (m.op === 'wrap') parent[key] = [parent[key]!];
  else {
    const target = parent[key];
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) setOwn(target, m.key, m.value);
  }
  return root;
}

/** An own property even for "__proto__", as JSON.parse on the other side makes it. */
function setOwn(target: object, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `seed` with one to four mutations applied (a fresh copy each time). */
export function mutated(seed: Json): fc.Arbitrary<Json> {
  const paths = pathsOf(seed);
  const path = paths.length ? fc.constantFrom(...paths) : fc.constant<Path>([]);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('set' as const), path, value: hostileValue }), weight: 5 },
    { arbitrary: fc.record({ op: fc.constant('delete' as const), path }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('add' as const), path: fc.oneof(path, fc.constant<Path>([])), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'type', 'extra')), value: hostileValue }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('wrap' as const), path }), weight: 1 },
  );
  return fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => {
    let root = structuredClone(seed);
    for (const m of ms) {
      if (m.op === 'add' && m.path.length === 0) {
        if (root !== null && typeof root === 'object' && !Array.isArray(root)) setOwn(root, m.key, m.value);
      } else root = apply(root, m);
    }
    return root;
  });
}

/** The bytes of `text` cut, spliced or sprinkled with random (often invalid UTF-8) bytes. */
export function mutatedBytes(text: string): fc.Arbitrary<Buffer> {
  const bytes = Buffer.from(text);
  const at = fc.nat({ max: Math.max(0, bytes.length - 1) });
  const junk = fc.uint8Array({ minLength: 1, maxLength: 8 });
  return fc.array(fc.oneof(
    fc.record({ op: fc.constant('cut' as const), at }),
    fc.record({ op: fc.constant('insert' as const), at, junk }),
    fc.record({ op: fc.constant('replace' as const), at, junk }),
  ), { minLength: 1, maxLength: 3 }).map((ops) => {
    let b = bytes;
    for (const o of ops) {
      const i = Math.min(o.at, b.length);
      if (o.op === 'cut') b = b.subarray(0, i);
      else if (o.op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from(o.junk), b.subarray(i)]);
      else b = Buffer.concat([b.subarray(0, i), Buffer.from(o.junk), b.subarray(i + o.junk.length)]);
    }
    return b;
  });
}

export type { Json };
