// The local forge's pull request page (/pulls/<n>): its commits, conversation
// and diff, read with the admin token, and a comment form — a `/ccc …` comment
// asks the cluster for a follow-up on the branch. Every text from the forge
// goes in through textContent only.
import { ApiError, forgetToken, getJson, loadToken, saveToken, tokenFromFragment } from './connection.js';
import { h } from './dom.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const number = Number(/^\/pulls\/(\d+)\/?$/.exec(location.pathname)?.[1] ?? NaN);

function banner(text) {
  $('banner').hidden = !text;
  $('banner-text').textContent = text ?? '';
}

function diffLine(line) {
  const kind = line.startsWith('+++') || line.startsWith('---') || line.startsWith('diff ') || line.startsWith('index ') ? 'meta'
    : line.startsWith('@@') ? 'hunk' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : 'ctx';
  return h('span', { class: `diff-${kind}`, text: `${line}\n` });
}

function render(p) {
  document.title = `#${p.number} ${p.title} · claude-code-cluster`;
  $('pr-title').textContent = `#${p.number} ${p.title}${p.draft ? ' (draft)' : ''}`;
  $('pr-meta').textContent = `${p.repo}: ${p.head} → ${p.base} · ${p.state}${p.label ? ` · ${p.label}` : ''}`;
  $('pr-body').textContent = p.body;
  $('pr-tasks').textContent = p.tasks.length ? `Tasks: ${p.tasks.map((t) => `#${t.id} ${t.state}${t.agentId ? ` on ${t.agentId}` : ''}`).join(', ')}` : '';
  $('count-commits').textContent = String(p.commits.length);
  $('commits').replaceChildren(...p.commits.map((c) => h('li', {}, h('code', { text: c.sha.slice(0, 12) }), ` ${c.subject} `, h('span', { class: 'muted', text: `${c.author}, ${c.at}` }))));
  $('count-comments').textContent = String(p.comments.length);
  $('comments').replaceChildren(...p.comments.map((c) => h('li', { class: 'comment' },
    h('p', { class: 'muted', text: `${c.author} · ${c.updatedAt ?? c.createdAt}` }), h('pre', { class: 'comment-body', text: c.body }))));
  const diff = p.error ? [h('span', { class: 'diff-meta', text: p.error })] : p.diff.split('\n').map(diffLine);
  if (p.truncated) diff.push(h('span', { class: 'diff-meta', text: '[the diff is cut here]' }));
  $('diff').replaceChildren(...diff);
  $('pull').hidden = false;
}

async function load() {
  const token = loadToken();
  if (!token) return askToken();
  try {
    const { pull } = await getJson(`/forge/pulls/${number}`, token);
    banner(null);
    render(pull);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      forgetToken();
      return askToken('That token was refused.');
    }
    banner(err instanceof ApiError ? err.message : 'The coordinator cannot be reached.');
  }
}

function askToken(error) {
  $('pull').hidden = true;
  $('login').hidden = false;
  $('login-error').hidden = !error;
  $('login-error').textContent = error ?? '';
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = /** @type {HTMLInputElement} */ ($('token')).value.trim();
  if (!value) return;
  saveToken(value);
  $('login').hidden = true;
  void load();
});

$('comment-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const field = /** @type {HTMLTextAreaElement} */ ($('comment-body'));
  const body = field.value.trim();
  if (!body) return;
  const res = await fetch(`/api/v1/forge/pulls/${number}/comments`, {
    method: 'POST', cache: 'no-store',
    headers: { authorization: `Bearer ${loadToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ body, author: 'dashboard' }),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    $('comment-result').textContent = answer?.error?.message ?? `HTTP ${res.status}`;
    return;
  }
  field.value = '';
  $('comment-result').textContent = answer.task ? `${answer.outcome}: task #${answer.task.id} (${answer.task.state})` : answer.reason ? `No task: ${answer.reason}` : 'Commented.';
  void load();
});

tokenFromFragment();
if (Number.isInteger(number) && number > 0) void load();
else banner('This address names no pull request: /pulls/<number>.');
setInterval(() => { if (!$('pull').hidden && document.visibilityState === 'visible') void load(); }, 5000);
