#!/usr/bin/env node
// A drill task for the command executor: prints a line every 40 ms (so the
// agent talks to the coordinator between heartbeats) until the file named by
// `ccc-drill: release=<path>` in the task body exists, then exits 0. At most 60 s.
import { existsSync } from 'node:fs';

const input = await new Promise((resolve) => {
  let text = '';
  process.stdin.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve(text));
});
const task = JSON.parse(input);
const release = /ccc-drill:\s*release=(\S+)/.exec(task.body ?? '')?.[1];
const deadline = Date.now() + 60_000;
for (let n = 1; !(release && existsSync(release)) && Date.now() < deadline; n++) {
  console.log(`tick ${n}`);
  await new Promise((r) => setTimeout(r, 40));
}
console.log(`done: ${task.title} (attempt ${task.attempt})`);
