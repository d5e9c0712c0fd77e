// DOM helpers for the dashboard. Text goes in through textContent only: task
// titles, bodies and output come from GitHub issues and are untrusted.

/**
 * Creates an element. `props`: class, text, title, href (http/https only),
 * hidden, or any attribute; children: nodes or strings (as text).
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'href') setHref(el, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/** Sets href only for an absolute http(s) URL; anything else (javascript:, data:) leaves the link inert. */
export function setHref(el, url) {
  try {
    const parsed = new URL(String(url));
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
      el.setAttribute('href', parsed.href);
      return true;
    }
  } catch { /* not a URL */ }
  el.removeAttribute('href');
  return false;
}

/** Sets text only when it changed, so a re-render does not disturb a selection. */
export function setText(el, text) {
  const value = String(text);
  if (el.textContent !== value) el.textContent = value;
}

/**
 * Brings `container`'s children in line with `items`, keyed, reusing the
 * element of each key: `create(item)` makes a new one, `update(el, item)`
 * refreshes it. Elements are only moved when the order changed.
 * @template T
 * @param {Element} container
 * @param {T[]} items
 * @param {(item: T) => string | number} key
 * @param {(item: T) => HTMLElement} create
 * @param {(el: HTMLElement, item: T) => void} update
 */
export function reconcile(container, items, key, create, update) {
  const existing = new Map();
  for (const el of [...container.children]) existing.set(el.dataset.key, el);
  let previous = null;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (el) existing.delete(k);
    else {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    const wanted = previous ? previous.nextElementSibling : container.firstElementChild;
    if (el !== wanted) container.insertBefore(el, wanted);
    previous = el;
  }
  for (const el of existing.values()) el.remove();
}

/** "12 s", "4 min", "3 h 5 min", "2 d" from milliseconds. */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d`;
}

/** "12 s ago" (or "just now") for an ISO time. */
export function ago(iso, now = Date.now()) {
  const ms = now - Date.parse(iso);
  return ms < 2000 ? 'just now' : `${duration(ms)} ago`;
}

/** US dollars: cents from a dime up, four decimals below (a short run costs a fraction of a cent). */
export function usd(value) {
  return value === 0 || value >= 0.1 ? `$${value.toFixed(2)}` : `$${value.toFixed(4)}`;
}
