// Draws the model into the page: header figures, agent cards, running tasks
// with their output tail, the queue and the finished tasks. Elements are
// reused per agent/task id, so an update never resets a scrolled tail.
import { ago, h, reconcile, setHref, setText, usd } from './dom.js';
import { currentStep } from './model.js';

/** Finished tasks shown (newest first). */
const FINISHED_SHOWN = 50;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {import('./model.js').Model} model */
export function render(model) {
  const now = Date.now();
  renderStats(model);
  renderAgents(model, now);
  renderRunning(model, now);
  renderQueue(model, now);
  renderFinished(model, now);
}

function renderStats(model) {
  const online = model.agents.filter((a) => a.state === 'online').length;
  setText($('stat-agents'), `${online} / ${model.agents.length}`);
  setText($('stat-queued'), model.count('queued'));
  setText($('stat-running'), model.running().length);
  setText($('stat-succeeded'), model.count('succeeded'));
  setText($('stat-failed'), model.count('failed'));
  setText($('stat-cost'), usd(model.cost()));
}

function showEmpty(listId, empty) {
  $(`${listId}-empty`).hidden = !empty;
}

// ── agents ─────────────────────────────────────────────────────────────────

function renderAgents(model, now) {
  showEmpty('agents', model.agents.length === 0);
  reconcile($('agents'), model.agents, (a) => a.id, () => h('li', { class: 'agent' },
    h('div', { class: 'agent-head' },
      h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', { class: 'agent-name' }),
      h('span', { class: 'agent-state' })),
    h('div', { class: 'agent-host muted' }),
    h('ul', { class: 'chips', 'aria-label': 'specialties' }),
    h('div', { class: 'load' },
      h('div', { class: 'bar', 'aria-hidden': 'true' }, h('div', { class: 'fill' })),
      h('span', { class: 'load-text' })),
    h('div', { class: 'agent-note' }),
    h('div', { class: 'agent-seen muted' }),
  ), (el, agent) => {
    const running = model.load(agent.id);
    el.dataset.state = agent.state;
    setText(part(el, 'agent-name'), agent.id);
    setText(part(el, 'agent-state'), agent.state);
    setText(part(el, 'agent-host'), agent.hostname);
    setText(part(el, 'agent-note'), agent.drainReason ?? '');
    const chips = part(el, 'chips');
    if (chips.dataset.value !== agent.specialties.join(',')) {
      chips.dataset.value = agent.specialties.join(',');
      chips.replaceChildren(...agent.specialties.map((s) => h('li', { class: 'chip', text: s })));
    }
    part(el, 'fill').style.width = `${Math.min(100, (100 * running) / Math.max(1, agent.capacity))}%`;
    setText(part(el, 'load-text'), `${running} / ${agent.capacity} running`);
    setText(part(el, 'agent-seen'), agent.state === 'offline' ? `last seen ${ago(agent.lastSeenAt, now)}` : `seen ${ago(agent.lastSeenAt, now)}`);
  });
}

// ── running ────────────────────────────────────────────────────────────────

function renderRunning(model, now) {
  const tasks = model.running();
  showEmpty('running', tasks.length === 0);
  setText($('count-running'), tasks.length || '');
  reconcile($('running'), tasks, (t) => t.id, () => h('li', { class: 'task running' },
    taskHead(),
    h('ol', { class: 'steps', 'aria-label': 'plan steps' }),
    h('div', { class: 'task-meta muted' }),
    h('pre', { class: 'tail', tabindex: '0', 'aria-label': 'output' }),
  ), (el, task) => {
    fillHead(el, task);
    const step = task.kind === 'plan' ? currentStep(task) : undefined;
    const who = task.agentId ?? 'an agent';
    const attempt = `attempt ${task.attempt} of ${task.maxAttempts}`;
    setText(part(el, 'task-meta'), step
      ? `step ${step.index + 1} of ${task.steps.length} (${step.specialty}) · ${step.agentId && step.state !== 'queued' ? `on ${step.agentId} · attempt ${step.attempt}` : `waiting for a ${step.specialty} agent`} · ${ago(task.updatedAt, now)}`
      : task.state === 'assigned'
        ? `assigned to ${who} ${ago(task.updatedAt, now)} · ${attempt} · waiting for it to start`
        : `on ${who} · ${attempt} · started ${ago(task.updatedAt, now)}`);
    const tail = part(el, 'tail');
    const lines = model.tailOf(task).map((e) => (e.kind === 'progress' ? e.message : `… ${e.message}`));
    const text = lines.length ? lines.join('\n') : task.state === 'assigned' ? 'waiting for the agent…' : 'no output yet';
    tail.classList.toggle('quiet-tail', lines.length === 0);
    if (tail.textContent !== text) {
      const atBottom = tail.scrollHeight - tail.scrollTop - tail.clientHeight < 24;
      tail.textContent = text;
      if (atBottom) tail.scrollTop = tail.scrollHeight;
    }
  });
}

// ── queue ──────────────────────────────────────────────────────────────────

function renderQueue(model, now) {
  const tasks = model.queue();
  showEmpty('queue', tasks.length === 0);
  setText($('count-queue'), tasks.length || '');
  reconcile($('queue'), tasks, (t) => t.id, () => h('li', { class: 'task queued' },
    taskHead(),
    h('ol', { class: 'steps', 'aria-label': 'plan steps' }),
    h('div', { class: 'task-meta muted' }),
    h('div', { class: 'task-reason muted' }),
  ), (el, task) => {
    fillHead(el, task);
    const retry = task.attempt > 0 ? ` · retry, ${task.attempt} of ${task.maxAttempts} attempts used` : '';
    setText(part(el, 'task-meta'), `queued ${ago(task.updatedAt, now)}${retry}`);
    setText(part(el, 'task-reason'), task.routeReason);
    part(el, 'task-reason').title = task.routeReason;
  });
}

// ── finished ───────────────────────────────────────────────────────────────

function renderFinished(model, now) {
  const all = model.finished();
  const tasks = all.slice(0, FINISHED_SHOWN);
  showEmpty('finished', tasks.length === 0);
  $('finished-table').hidden = tasks.length === 0;
  setText($('count-finished'), all.length > FINISHED_SHOWN ? `latest ${FINISHED_SHOWN} of ${all.length}` : all.length || '');
  reconcile($('finished'), tasks, (t) => t.id, () => h('tr', { class: 'task' },
    h('td', { class: 'num' }),
    h('td', { class: 'title-cell' }, h('div', { class: 'task-title' }), h('div', { class: 'task-source muted' })),
    h('td', {}, h('span', { class: 'badge' })),
    h('td', { class: 'agent-cell' }),
    h('td', { class: 'pr-cell' }, h('a', { class: 'pr', target: '_blank', rel: 'noopener noreferrer' })),
    h('td', { class: 'summary' }),
    h('td', { class: 'cost num' }),
    h('td', { class: 'when muted' }),
  ), (el, task) => {
    el.dataset.state = task.state;
    setText(el.children[0], `#${task.id}`);
    setText(part(el, 'task-title'), task.title);
    part(el, 'task-title').title = task.title;
    setText(part(el, 'task-source'), source(task));
    setText(part(el, 'badge'), task.state);
    setText(part(el, 'agent-cell'), task.agentId ?? '—');
    const link = /** @type {HTMLAnchorElement} */ (part(el, 'pr'));
    const pr = task.pullRequest;
    if (pr && setHref(link, pr.url)) setText(link, `#${pr.number}`);
    else setText(link, '—');
    // The local forge's page is this coordinator's own: the new tab gets this tab's token (an opener copies sessionStorage).
    link.rel = link.href && new URL(link.href).origin === location.origin ? 'opener' : 'noopener noreferrer';
    const summary = task.result?.summary ?? '';
    setText(part(el, 'summary'), firstLine(summary) || '—');
    part(el, 'summary').title = summary;
    const cost = task.result?.costUsd;
    setText(part(el, 'cost'), typeof cost === 'number' ? usd(cost) : '—');
    setText(part(el, 'when'), ago(task.updatedAt, now));
  });
}

// ── shared pieces ──────────────────────────────────────────────────────────

function taskHead() {
  return h('div', { class: 'task-head' },
    h('span', { class: 'task-id' }),
    h('span', { class: 'task-title' }),
    h('span', { class: 'chip specialty' }));
}

function fillHead(el, task) {
  setText(part(el, 'task-id'), `#${task.id}`);
  setText(part(el, 'task-title'), task.title);
  part(el, 'task-title').title = [task.title, source(task)].filter(Boolean).join('\n');
  setText(part(el, 'specialty'), task.kind === 'plan' ? `plan · ${task.steps.length} steps` : task.specialty);
  const steps = part(el, 'steps');
  if (!steps) return;
  steps.hidden = task.kind !== 'plan';
  const value = JSON.stringify((task.steps ?? []).map((s) => [s.state, s.agentId]));
  if (steps.dataset.value === value) return;
  steps.dataset.value = value;
  // One chip per step: its specialty and state; the agent that did it, once it did.
  steps.replaceChildren(...(task.steps ?? []).map((s) => h('li', {
    class: 'step', 'data-state': s.state,
    title: `${s.index + 1}. ${s.specialty}: ${s.goal}\n${s.state}${s.agentId ? ` on ${s.agentId}` : ''}${s.commit ? ` · ${s.commit.slice(0, 12)}` : ''}`,
    text: `${s.index + 1} ${s.specialty} · ${STEP_MARK[s.state] ?? s.state}`,
  })));
}

const STEP_MARK = { pending: 'waiting', queued: 'queued', assigned: 'starting', running: 'running', succeeded: 'done', failed: 'failed', cancelled: 'cancelled' };

function source(task) {
  if (task.repo && task.issueNumber) return `${task.repo}#${task.issueNumber}`;
  return task.repo ?? '';
}

function firstLine(text) {
  return text.split('\n').find((l) => l.trim())?.trim() ?? '';
}

function part(el, cls) {
  return /** @type {HTMLElement} */ (el.getElementsByClassName(cls)[0]);
}
