/**
 * Keeps the transcripts of the CLI's sessions outside its per-run home, so a
 * follow-up on this agent can `--resume` the previous run although every run
 * starts with a fresh home (nothing else of a home outlives its run: a planted
 * settings.json with hooks never reaches the next task). A transcript is
 * conversation data the CLI reads back as history, never configuration.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Transcripts older than this are dropped when a new one is kept. */
const KEEP_MS = 14 * 24 * 3_600_000;

export class SessionStore {
  constructor(private readonly dir: string) {}

  /** Puts a kept transcript where the CLI looks for it (`~/.claude/projects/<any>/<id>.jsonl`); false when this agent has none. */
  restore(home: string, sessionId: string): boolean {
    const kept = this.path(sessionId);
    if (!kept || !existsSync(kept)) return false;
    const projects = join(home, '.claude', 'projects', 'ccc-resumed');
    mkdirSync(projects, { recursive: true, mode: 0o700 });
    copyFileSync(kept, join(projects, `${sessionId}.jsonl`));
    return true;
  }

  /** Copies the run's transcript out of its home before the home is removed. */
  keep(home: string, sessionId: string, now = Date.now()): void {
    const target = this.path(sessionId);
    const projects = join(home, '.claude', 'projects');
    if (!target || !existsSync(projects)) return;
    const found = readdirSync(projects).map((d) => join(projects, d, `${sessionId}.jsonl`)).find((p) => existsSync(p) && statSync(p).isFile());
    if (!found) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    copyFileSync(found, target);
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      if (now - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { force: true });
    }
  }

  private path(sessionId: string): string | undefined {
    return SESSION_ID.test(sessionId) ? join(this.dir, `${sessionId}.jsonl`) : undefined;
  }
}
