// Formatting and navigation helpers shared by the pages.
import { useEffect, useState } from 'preact/hooks';

/** A status word -> its look: ok, bad, run, wait or off. */
export function tone(status) {
  switch (status) {
    case 'succeeded': case 'success': return 'ok';
    case 'failed': case 'failure': case 'error': case 'timed-out': case 'interrupted': return 'bad';
    case 'running': case 'cancelling': return 'run';
    case 'queued': case 'pending': return 'wait';
    default: return 'off';  // cancelled, skipped
  }
}

export const ICONS = { ok: '✓', bad: '✕', run: '●', wait: '○', off: '–' };

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !(seconds >= 0)) return '–';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  if (m < 60) return `${m}m ${String(s).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

export function gpuTime(seconds) {
  if (!seconds) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} GPU·s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(seconds < 600 ? 1 : 0)} GPU·min`;
  return `${(seconds / 3600).toFixed(1)} GPU·h`;
}

export function absTime(t) {
  if (!t) return '';
  return new Date(t * 1000).toLocaleString();
}

export function relTime(t, now = Date.now() / 1000) {
  if (!t) return '–';
  const d = now - t;
  if (d < 45) return 'just now';
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  if (d < 7 * 86400) return `${Math.round(d / 86400)} d ago`;
  return new Date(t * 1000).toLocaleDateString();
}

export function bytes(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export const TRIGGERS = { cli: 'CLI', push: 'Push', pull_request: 'Pull request', manual: 'Manual' };

/** Client-side navigation: pushState, then tell the app. */
export function navigate(href, replace = false) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new Event('wfrun:navigate'));
}

/** onClick for <a href> that stays in the app (plain clicks only; ctrl/middle open a tab). */
export function linkClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.currentTarget;
  if (a.target || a.origin !== location.origin) return;
  e.preventDefault();
  navigate(a.pathname + a.search + a.hash);
}

export function shortSha(sha) {
  return sha ? sha.slice(0, 7) : '';
}

/** A module loaded on first use (a chunk of its own): null until it has arrived. */
export function useModule(load) {
  const [mod, setMod] = useState(null);
  useEffect(() => {
    let live = true;
    load().then((m) => live && setMod(m));
    return () => { live = false; };
  }, []);
  return mod;
}
