#!/usr/bin/env node
// The command executor's default task: reads the task as JSON on stdin, reports
// a few steps, and writes NOTES.md in its work directory. A line in the task
// body such as `ccc-demo: sleep=2000 exit=3` makes it slower or fail, for drills.
import { writeFileSync } from 'node:fs';

const input = await new Promise((resolve) => {
  let text = '';
  process.stdin.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve(text));
});
const task = JSON.parse(input);
const knobs = Object.fromEntries(
  [...(/ccc-demo:([^\n]*)/.exec(task.body ?? '')?.[1] ?? '').matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]),
);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const steps = ['reading the issue', `planning as a ${task.specialty} specialist`, 'writing NOTES.md'];
for (const step of steps) {
  console.log(`step: ${step}`);
  await sleep((knobs.sleep ?? 300) / steps.length);
}
writeFileSync('NOTES.md', `# ${task.title}\n\nHandled by a ${task.specialty} agent (attempt ${task.attempt}).\n`);
if (knobs.exit) {
  console.error(`demo failure requested (exit ${knobs.exit})`);
  process.exit(knobs.exit);
}
console.log(`done: ${task.title}`);
