// The JSON API the pages read (docs/dashboard.md, "API"). Every call is same-origin; changes
// carry the session's CSRF token; a run link's key rides along on every read.

let csrf = '';
let runKey = new URLSearchParams(location.search).get('key') || '';

export function setCsrf(token) { csrf = token || ''; }
export function keyParam() { return runKey; }

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** `path` with the run key (when the page was opened from a run link) and `params`. */
export function url(path, params = {}) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  if (runKey) u.searchParams.set('key', runKey);
  return u.pathname + u.search;
}

async function check(res) {
  if (res.ok) return res;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) message = body.error;
  } catch (e) { /* not JSON */ }
  throw new ApiError(res.status, message);
}

// Requests started before a page asks (prefetch): the first screen's data travels while the
// session is asked and the page's code runs. Each is taken once; an unclaimed one is dropped.
const early = new Map();

/** Starts GET `path` now; the page's first getJson/getText of the same address takes it. */
export function prefetch(path, params) {
  const u = url(path, params);
  if (early.has(u)) return;
  const res = fetch(u, { credentials: 'same-origin' });
  res.catch(() => {});
  early.set(u, res);
  setTimeout(() => early.delete(u), 10000);
}

function get(u) {
  const res = early.get(u);
  if (!res) return fetch(u, { credentials: 'same-origin' });
  early.delete(u);
  return res;
}

export async function getJson(path, params) {
  return (await check(await get(url(path, params)))).json();
}

export async function getText(path, params) {
  return check(await get(url(path, params)));
}

export async function post(path, body = {}) {
  const res = await fetch(url(path), {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify(body),
  });
  return (await check(res)).json();
}

/** An EventSource on `path` that calls handlers[event](data) and reopens after errors. */
export function stream(path, params, handlers) {
  let es = null;
  let closed = false;
  let timer = null;
  const open = (p) => {
    es = new EventSource(url(path, p));
    for (const [event, fn] of Object.entries(handlers)) {
      if (event === 'open' || event === 'error') continue;
      es.addEventListener(event, (e) => {
        let data = null;
        try { data = JSON.parse(e.data); } catch (err) { return; }
        fn(data, e);
      });
    }
    es.onopen = () => handlers.open && handlers.open();
    es.onerror = () => {
      // The server ends each stream after a while and EventSource reconnects by itself; a
      // refused stream (too many pages open) closes it: try again in a few seconds.
      if (es.readyState === EventSource.CLOSED && !closed) {
        timer = setTimeout(() => open(handlers.params ? handlers.params() : p), 5000);
      }
      handlers.error && handlers.error();
    };
  };
  open(params);
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (es) es.close();
    },
  };
}
