/** The one file the rehearsal model writes for a task: where it goes by specialty, and what it says. */
import type { TaskPrompt } from './prompt.js';

const MAX_SLUG = 40;

/**
 * A file-name-safe slug of a title: lowercase ASCII letters and digits joined
 * by `sep`, at most 40 characters, never empty. Nothing else survives, so a
 * title such as `../../etc/passwd` cannot leave the directory it is put in.
 *
 * @example slugify('Add a /health endpoint') // 'add-a-health-endpoint'
 */
export function slugify(title: string, sep: '-' | '_' = '-', fallback = 'task'): string {
  const words = title.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim().split(' ').filter(Boolean);
  let slug = '';
  for (const word of words) {
    const next = slug ? `${slug}${sep}${word}` : word;
    if (next.length > MAX_SLUG) break;
    slug = next;
  }
  return slug || words[0]?.slice(0, MAX_SLUG) || fallback;
}

export interface TaskFile {
  /** Relative to the working directory, `/`-separated, without `..`. */
  path: string;
  content: string;
}

/** Comments hold the title on one line; string literals hold it JSON-quoted (valid in Python, TS and YAML). */
function oneLine(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]+/g, ' ');
}

/** The file for a task: backend → server/, frontend → web/, testing → tests/, devops → deploy/, else docs/. */
export function taskFile(task: TaskPrompt): TaskFile {
  const title = oneLine(task.title);
  const quoted = JSON.stringify(title);
  const ref = oneLine(task.issueRef);
  const fallback = task.issueNumber ? `issue-${task.issueNumber}` : 'task';
  const kebab = slugify(task.title, '-', fallback);
  const snake = slugify(task.title, '_', fallback.replace('-', '_'));
  const repo = task.repository ? ` in ${oneLine(task.repository)}` : '';
  switch (task.specialty) {
    case 'backend':
      return {
        path: `server/${snake}.py`,
        content: `# ${ref}: ${title}\n# Written by the ccc rehearsal model${repo}.\n\nISSUE = ${JSON.stringify(ref)}\nTITLE = ${quoted}\n\n\ndef handle():\n    """Answers the request this issue asks for."""\n    return {"ok": True, "issue": ISSUE, "title": TITLE}\n`,
      };
    case 'frontend':
      return {
        path: `web/${kebab}.tsx`,
        content: `// ${ref}: ${title}\n// Written by the ccc rehearsal model${repo}.\n\nexport const ISSUE = ${JSON.stringify(ref)};\nexport const TITLE = ${quoted};\n\nexport default function Feature() {\n  return <section aria-label={TITLE}>{ISSUE}: {TITLE}</section>;\n}\n`,
      };
    case 'testing':
      return {
        path: `tests/test_${snake}.py`,
        content: `# ${ref}: ${title}\n# Written by the ccc rehearsal model${repo}.\n\nTITLE = ${quoted}\n\n\ndef test_${snake}():\n    assert TITLE\n`,
      };
    case 'devops':
      return {
        path: `deploy/${kebab}.yml`,
        content: `# ${ref}: ${title}\n# Written by the ccc rehearsal model${repo}.\nname: ${kebab}\nissue: ${JSON.stringify(ref)}\ntitle: ${quoted}\nsteps:\n  - run: echo ${kebab}\n`,
      };
    default:
      return {
        path: `docs/${kebab}.md`,
        content: `# ${title}\n\nNotes for ${ref}${repo}, written by the ccc rehearsal model (specialty: ${oneLine(task.specialty)}).\n`,
      };
  }
}
