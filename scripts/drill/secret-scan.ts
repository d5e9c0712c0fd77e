/** Looks for secret values in every file under a directory (logs, SQLite, worktrees, CLI homes) and in extra text. */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface SecretScan {
  files: number;
  bytes: number;
  /** "<file>: secret #n", one per file and secret found. */
  hits: string[];
}

/** Reads each regular file (symlinks are not followed) and searches its bytes for each secret. */
export function findSecrets(root: string, secrets: readonly string[], skip: readonly string[], extraText = ''): SecretScan {
  const needles = secrets.filter((s) => s.length >= 8).map((s) => Buffer.from(s));
  const scan: SecretScan = { files: 0, bytes: 0, hits: [] };
  const visit = (path: string) => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      return; // removed while we walk (a worktree being cleaned up)
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry));
      return;
    }
    if (!stat.isFile() || skip.includes(path)) return;
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch {
      return;
    }
    scan.files++;
    scan.bytes += data.length;
    needles.forEach((needle, i) => {
      if (data.includes(needle)) scan.hits.push(`${relative(root, path)}: secret #${i + 1}`);
    });
  };
  visit(root);
  const extra = Buffer.from(extraText);
  needles.forEach((needle, i) => {
    if (extra.includes(needle)) scan.hits.push(`task output: secret #${i + 1}`);
  });
  return scan;
}
