/**
 * Decides which specialty a task needs: an explicit request, else a
 * `ccc:<specialty>` label, else keywords in the title and body, else `general`.
 * The keyword table is documented in docs/routing.md.
 */

import { SPECIALTY_PATTERN } from '../shared/names.js';

export const GENERAL = 'general';
export const LABEL_PREFIX = 'ccc:';
/** `ccc:` labels that mark a task's progress on GitHub, never a specialty. */
export const STATUS_LABELS: readonly string[] = ['queued', 'running', 'done', 'failed'];

function labelSpecialty(label: string): string | undefined {
  if (!label.toLowerCase().startsWith(LABEL_PREFIX)) return undefined;
  const name = label.slice(LABEL_PREFIX.length).toLowerCase();
  return SPECIALTY_PATTERN.test(name) && !STATUS_LABELS.includes(name) ? name : undefined;
}

/** Every specialty the `ccc:<specialty>` labels name, in label order. */
export function labelSpecialties(labels: readonly string[]): string[] {
  return labels.flatMap((label) => labelSpecialty(label) ?? []);
}

/** Default keywords per specialty; cluster.yml `routing.keywords` replaces them. Order breaks ties. */
export const DEFAULT_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  backend: ['backend', 'api', 'endpoint', 'server', 'database', 'sql', 'postgres', 'mysql', 'sqlite', 'migration', 'schema', 'python', 'django', 'flask', 'fastapi', 'graphql', 'rest', 'orm', 'query'],
  frontend: ['frontend', 'ui', 'ux', 'react', 'component', 'css', 'html', 'page', 'button', 'layout', 'style', 'typescript', 'vue', 'browser', 'form', 'accessibility', 'dashboard'],
  testing: ['test', 'tests', 'testing', 'qa', 'pytest', 'jest', 'vitest', 'e2e', 'coverage', 'flaky', 'regression', 'playwright', 'cypress', 'fixture'],
  devops: ['devops', 'docker', 'dockerfile', 'kubernetes', 'k8s', 'helm', 'ci', 'pipeline', 'deploy', 'deployment', 'terraform', 'infrastructure', 'ansible', 'nginx', 'monitoring', 'systemd'],
};

export interface SpecialtyChoice {
  specialty: string;
  reason: string;
}

export interface TaskText {
  title: string;
  body: string;
  labels: readonly string[];
  specialty?: string | undefined;
}

const WORD = /[a-z0-9][a-z0-9+#.-]*/g;

function words(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).map((w) => w.replace(/[.-]+$/, ''));
}

/** Title words count twice, body words once; the highest score wins. */
export function chooseSpecialty(task: TaskText, keywords: Readonly<Record<string, readonly string[]>> = DEFAULT_KEYWORDS): SpecialtyChoice {
  if (task.specialty) return { specialty: task.specialty, reason: `requested specialty ${task.specialty}` };
  for (const label of task.labels) {
    const specialty = labelSpecialty(label);
    if (specialty) return { specialty, reason: `label ${label} → ${specialty}` };
  }
  const title = words(task.title);
  const body = words(task.body);
  let best: { specialty: string; score: number; hits: string[] } | undefined;
  for (const [specialty, list] of Object.entries(keywords)) {
    const set = new Set(list.map((k) => k.toLowerCase()));
    const hits = new Set<string>();
    let score = 0;
    for (const w of title) if (set.has(w)) { score += 2; hits.add(w); }
    for (const w of body) if (set.has(w)) { score += 1; hits.add(w); }
    if (score > 0 && (!best || score > best.score)) best = { specialty, score, hits: [...hits] };
  }
  if (best) return { specialty: best.specialty, reason: `keywords ${best.hits.slice(0, 5).join(', ')} → ${best.specialty}` };
  return { specialty: GENERAL, reason: `no label or keyword → ${GENERAL}` };
}
