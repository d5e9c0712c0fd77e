// The dashboard's entry point: gets the admin token (form or /#token=…),
// loads a snapshot, follows the live stream and redraws on every change.
import { LiveConnection, forgetToken, getJson, loadToken, saveToken, tokenFromFragment } from './connection.js';
import { duration, setText, usd } from './dom.js';
import { Model, RECENT_TASKS } from './model.js';
import { render } from './view.js';

/** How often the agent list is read again: heartbeats move "last seen" without a stream message. */
const AGENTS_REFRESH_MS = 10_000;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const model = new Model();
/** @type {LiveConnection | null} */
let connection = null;
let status = { state: 'connecting' };
let drawPending = false;

function redraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    render(model);
  });
}

/** Agents, the newest tasks and every unfinished task, with the output so far of the active ones. */
async function loadSnapshot(token, signal) {
  const [agents, recent, ...unfinished] = await Promise.all([
    getJson('/agents', token, signal),
    getJson(`/tasks?limit=${RECENT_TASKS}`, token, signal),
    ...['queued', 'assigned', 'running'].map((state) => getJson(`/tasks?state=${state}&limit=5000`, token, signal)),
  ]);
  const tasks = new Map();
  for (const list of [recent, ...unfinished]) for (const t of list.tasks) tasks.set(t.id, t);
  model.reset(agents.agents, [...tasks.values()]);
  const active = model.running();
  const details = await Promise.all(active.map((t) => getJson(`/tasks/${t.id}`, token, signal)));
  for (const { task } of details) for (const event of task.events) model.addEvent({ ...event, taskId: task.id });
  $('board').hidden = false;
  redraw();
  showBudget(token);
}

/** Today's model spend and the daily budget (GET /summary); says so when new tasks wait for it. */
function showBudget(token) {
  getJson('/summary', token).then(({ budget }) => {
    if (!budget) return;
    const limit = budget.limitUsd === null ? '' : ` of ${usd(budget.limitUsd)}`;
    setText($('stat-today'), `${usd(budget.spentTodayUsd)}${limit}${budget.waiting ? ' — tasks wait' : ''}`);
    $('stat-today').parentElement.title = budget.waiting ?? `Model cost of the attempts that ended today (${budget.day} UTC)`;
  }, () => { /* the stream reports trouble */ });
}

function onMessage(token, event, data) {
  try {
    const payload = JSON.parse(data);
    if (event === 'task') {
      model.putTask(payload);
      if (payload.result?.costUsd) showBudget(token); // an attempt's cost was just counted
    }
    else if (event === 'agents') model.setAgents(payload.agents);
    else if (event === 'task-event' && model.addEvent(payload)) refreshTask(token, payload.taskId);
    redraw();
  } catch (err) {
    console.error('dashboard: could not apply a stream message', event, err);
  }
}

/** Reads one task again (its pull request is announced only as a history entry). */
function refreshTask(token, id) {
  getJson(`/tasks/${id}`, token).then(({ task }) => {
    const { events: _events, ...rest } = task;
    model.putTask(rest);
    redraw();
  }, () => { /* the next snapshot will have it */ });
}

function showStatus(next) {
  status = next;
  const conn = $('conn');
  conn.dataset.state = next.state === 'retrying' && next.reason === 'unreachable' ? 'offline' : next.state;
  document.body.classList.toggle('stale', next.state === 'retrying');
  const banner = $('banner');
  if (next.state === 'live') setConn('Live');
  else if (next.state === 'connecting') setConn('Connecting…');
  else if (next.state === 'retrying') setConn(next.reason === 'unreachable' ? 'Offline' : 'Reconnecting');
  banner.hidden = next.state !== 'retrying';
  if (next.state === 'retrying') tickBanner();
  if (next.state === 'unauthorized') {
    stop();
    forgetToken();
    showLogin('The coordinator refused this token (401 Unauthorized). Check CCC_ADMIN_TOKEN and enter it again.');
  }
}

function setConn(text) {
  $('conn-text').textContent = text;
}

/** Updates the retry countdown in the banner. */
function tickBanner() {
  if (status.state !== 'retrying') return;
  const left = Math.max(0, status.retryAt - Date.now());
  const when = left < 1000 ? 'Retrying now…' : `Retrying in ${duration(left)}.`;
  let text;
  if (status.reason === 'unreachable') text = `Cannot reach the coordinator at ${location.host}: it may be stopped, restarting or out of network reach. ${when}`;
  else if (status.reason === 'error') text = `The coordinator answered with an error: ${status.message}. ${when}`;
  else text = `The live connection to the coordinator dropped. ${when}`;
  $('banner-text').textContent = text;
}

function start(token) {
  $('login').hidden = true;
  $('forget').hidden = false;
  $('stats').hidden = false;
  connection = new LiveConnection({
    token,
    load: (signal) => loadSnapshot(token, signal),
    onMessage: (event, data) => onMessage(token, event, data),
    onStatus: showStatus,
  });
  connection.start();
}

function stop() {
  connection?.stop();
  connection = null;
}

function showLogin(error) {
  stop();
  $('board').hidden = true;
  $('banner').hidden = true;
  $('forget').hidden = true;
  $('stats').hidden = true;
  $('conn').dataset.state = 'signed-out';
  setConn('Signed out');
  const message = $('login-error');
  message.textContent = error ?? '';
  message.hidden = !error;
  $('login').hidden = false;
  /** @type {HTMLInputElement} */ ($('token')).value = '';
  $('token').focus();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token'));
  const token = input.value.trim();
  input.value = '';
  if (!token) return;
  saveToken(token);
  start(token);
});

$('forget').addEventListener('click', () => {
  forgetToken();
  showLogin();
});

$('retry-now').addEventListener('click', () => connection?.retryNow());

// Relative times and the retry countdown move on their own.
setInterval(() => {
  tickBanner();
  if (connection && !$('board').hidden) redraw();
}, 1000);

setInterval(() => {
  const token = loadToken();
  if (!token || status.state !== 'live') return;
  getJson('/agents', token).then(({ agents }) => { model.setAgents(agents); redraw(); }, () => { /* the stream reports trouble */ });
  showBudget(token);
}, AGENTS_REFRESH_MS);

tokenFromFragment();
const token = loadToken();
if (token) start(token);
else showLogin();
