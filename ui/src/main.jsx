// The dashboard's shell: who we are (/api/session), the header, and which page the address
// shows. Pages: / (runs), /runs/ID (a run), /workflows (wfrun serve), /gpus.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { getJson, keyParam, prefetch, setCsrf } from './api.js';
import { linkClick } from './util.js';
import { currentParams, RunsPage } from './pages/runs.jsx';
import { preloadRun, preloadRunCode, RunPage } from './pages/run.jsx';
import { WorkflowsPage } from './pages/workflows.jsx';
import { GpusPage } from './pages/gpus.jsx';
import { LoginPage } from './pages/login.jsx';

// Asked before the first render: the answer decides what the first screen is.
// A run link (/runs/ID?key=K) asks as that run's reader.
const linked = location.pathname.match(/^\/runs\/(\d+)$/);
const sessionPromise = getJson('/api/session', keyParam() && linked ? { run: linked[1] } : {});
// The first screen's data is asked for the moment the session is known, before the page renders
// and its effects run (a frame later, more on a busy machine).
if (linked) preloadRunCode();
sessionPromise.then((s) => {
  if (!s.signed_in) return;
  if (linked) preloadRun(linked[1]);
  else if (location.pathname === '/' && s.access === 'full') prefetch('/api/runs', currentParams());
}, () => {});

function useLocation() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    const update = () => setLoc(location.pathname + location.search);
    window.addEventListener('popstate', update);
    window.addEventListener('wfrun:navigate', update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('wfrun:navigate', update);
    };
  }, []);
  return loc;
}

function Header({ session, path }) {
  const full = session && session.access === 'full';
  const item = (href, label, active) => (
    <a href={href} onClick={linkClick} aria-current={active ? 'page' : undefined}>{label}</a>
  );
  return (
    <header class="top">
      <a class="skip" href="#main">Skip to content</a>
      <a class="brand" href={full ? '/' : location.pathname + location.search} onClick={full ? linkClick : undefined}>
        <svg viewBox="0 0 32 32" aria-hidden="true" width="22" height="22"><rect width="32" height="32" rx="7" class="logo-bg" /><circle cx="9" cy="10" r="3.2" fill="#fff" /><circle cx="23" cy="10" r="3.2" fill="#fff" /><circle cx="16" cy="23" r="3.2" fill="#fff" /><path d="M9 10 16 23 23 10" fill="none" stroke="#fff" stroke-width="2" /></svg>
        <span>wfrun</span>
      </a>
      {full && (
        <nav aria-label="Main">
          {item('/', 'Runs', path === '/' || path.startsWith('/runs/'))}
          {session.workflows && item('/workflows', 'Workflows', path === '/workflows')}
          {item('/gpus', 'GPUs', path === '/gpus')}
        </nav>
      )}
      {session && (
        <span class="where" title={session.kind === 'ui' ? 'wfrun ui: this machine\'s runs' : 'wfrun serve'}>
          {session.access === 'run' ? 'read-only run link' : session.kind === 'ui' ? 'local' : 'server'}
        </span>
      )}
    </header>
  );
}

function App() {
  const loc = useLocation();
  const [session, setSession] = useState(undefined);  // undefined: loading; null: signed out
  const [error, setError] = useState('');
  const [kind, setKind] = useState('');
  const got = (s) => {
    setCsrf(s.csrf);
    setKind(s.kind);
    setSession(s.signed_in ? s : null);
  };
  const failed = (e) => { if (e.status === 401) setSession(null); else setError(e.message); };
  const reload = () => getJson('/api/session', keyParam() && linked ? { run: linked[1] } : {}).then(got, failed);
  useEffect(() => { sessionPromise.then(got, failed); }, []);
  const path = loc.split('?')[0];
  let body;
  if (error) body = <p class="notice bad" role="alert">The dashboard cannot reach wfrun: {error}</p>;
  else if (session === undefined) body = <p class="boot" aria-busy="true">Loading…</p>;
  else if (session === null) body = <LoginPage onSignedIn={reload} keyed={!!keyParam()} kind={kind} />;
  else {
    const m = path.match(/^\/runs\/(\d+)$/);
    if (m) body = <RunPage key={m[1]} id={Number(m[1])} session={session} />;
    else if (session.access !== 'full') body = <p class="notice">This link opens one run only.</p>;
    else if (path === '/') body = <RunsPage session={session} />;
    else if (path === '/workflows' && session.workflows) body = <WorkflowsPage />;
    else if (path === '/gpus') body = <GpusPage />;
    else body = <p class="notice">No page here. <a href="/" onClick={linkClick}>See the runs</a>.</p>;
  }
  return (
    <>
      <Header session={session} path={path} />
      <main id="main" tabIndex="-1">{body}</main>
    </>
  );
}

const root = document.getElementById('app');
root.textContent = '';  // the 'Loading' line index.html shows until now
render(<App />, root);
