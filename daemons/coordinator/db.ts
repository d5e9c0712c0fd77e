/** Opens the coordinator's SQLite database (WAL, full sync) and applies versioned migrations. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CccError } from '../shared/errors.js';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export function openDb(file: string): Db {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // FULL: a transaction acknowledged to a client survives a crash or power loss.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err instanceof CccError ? new CccError(`${file}: ${err.message}`, err.code) : err;
  }
  return db;
}

/** Applies every migration above PRAGMA user_version, each in its own transaction. */
export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length;
  if (current > latest) {
    throw new CccError(`database schema version ${current} is newer than this coordinator knows (${latest}): upgrade ccc, or point CCC_DATA_DIR elsewhere`, 'config');
  }
  for (let v = current; v < latest; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
