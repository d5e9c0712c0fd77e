/**
 * A task's own home and temp for the CLI, fresh for every run and removed
 * after it: nothing the model leaves there (a ~/.claude/settings.json with
 * hooks, a shell profile) reaches the next task. Home and temp live under
 * `<dataDir>/sandbox/<taskId>-<attempt>/`, which the sandbox never sees whole;
 * the sockets of its relay and egress sessions in a private temp directory.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TaskDirs {
  root: string;
  home: string;
  tmp: string;
  /**
   * Outside the sandbox only: the relay's and the proxy's sockets, in a private (0700) directory
   * under the system temp, because a unix socket path must stay under 108 bytes and a data dir can be deep.
   */
  sockets: string;
  remove(): void;
}

export function freshTaskDirs(dataDir: string, taskId: number, attempt: number): TaskDirs {
  const root = join(dataDir, 'sandbox', `${taskId}-${attempt}`);
  rmSync(root, { recursive: true, force: true });
  const dirs = { root, home: join(root, 'home'), tmp: join(root, 'tmp') };
  for (const dir of [dirs.home, dirs.tmp]) mkdirSync(dir, { recursive: true });
  chmodSync(root, 0o700);
  const sockets = mkdtempSync(join(tmpdir(), 'ccc-task-'));
  return {
    ...dirs, sockets,
    remove: () => { rmSync(root, { recursive: true, force: true }); rmSync(sockets, { recursive: true, force: true }); },
  };
}
