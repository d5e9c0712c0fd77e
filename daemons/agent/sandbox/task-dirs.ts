/**
 * A task's own home and temp for the CLI, fresh for every run and removed
 * after it: nothing the model leaves there (a ~/.claude/settings.json with
 * hooks, a shell profile) reaches the next task. The sockets of its relay and
 * egress sessions sit beside them. Everything lives under
 * `<dataDir>/sandbox/<taskId>-<attempt>/`, which the sandbox never sees whole.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface TaskDirs {
  root: string;
  home: string;
  tmp: string;
  /** Outside the sandbox only: the relay's and the proxy's sockets. */
  sockets: string;
  remove(): void;
}

export function freshTaskDirs(dataDir: string, taskId: number, attempt: number): TaskDirs {
  const root = join(dataDir, 'sandbox', `${taskId}-${attempt}`);
  rmSync(root, { recursive: true, force: true });
  const dirs = { root, home: join(root, 'home'), tmp: join(root, 'tmp'), sockets: join(root, 'sockets') };
  for (const dir of [dirs.home, dirs.tmp, dirs.sockets]) mkdirSync(dir, { recursive: true });
  for (const dir of [root, dirs.sockets]) chmodSync(dir, 0o700);
  return { ...dirs, remove: () => rmSync(root, { recursive: true, force: true }) };
}
