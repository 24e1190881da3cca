// One run: its DAG, the selected job's log, metrics and outputs, links to GitHub, and the
// Cancel and Re-run buttons. One event stream keeps it live (the run, and the followed log).
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, post, prefetch, stream } from '../api.js';
import { Status } from '../components/status.jsx';
import { LOG_WINDOW, LogView } from '../components/log.jsx';
import { Outputs } from '../components/outputs.jsx';
import { absTime, duration, gpuTime, linkClick, navigate, shortSha, TRIGGERS, useModule } from '../util.js';

// The graph layout and the charts load when a run page first needs them.
const loadDag = () => import('../components/dag.jsx');
const loadCharts = () => import('../components/charts.jsx');

/** For a run page opened directly, as soon as the session is known: the run and, with
 *  ?job=NAME, that job's log tail (the graph's code is asked for even earlier). */
export { loadDag as preloadRunCode };
export function preloadRun(id) {
  prefetch(`/api/runs/${id}`);
  const job = new URLSearchParams(location.search).get('job');
  if (job && !job.includes('/')) prefetch(`/api/runs/${id}/jobs/${encodeURIComponent(job)}/log`, { from: -LOG_WINDOW });
}

const ACTIVE = new Set(['queued', 'running', 'cancelling']);

function pickJob(run, wanted) {
  const all = [];
  (run.workflows || []).forEach((w, wi) => (w.jobs || []).forEach((j) => all.push({ w: wi, j })));
  if (wanted) {
    const [wp, name] = wanted.includes('/') && run.workflows.length > 1 ? wanted.split('/') : [null, wanted];
    const hit = all.find((x) => x.j.name === name && (wp === null || String(x.w) === wp));
    if (hit) return hit;
  }
  return all.find((x) => x.j.state === 'running') || all.find((x) => x.j.state === 'failed' || x.j.state === 'timed-out')
    || all[all.length - 1] || null;
}

function setQuery(name, value) {
  const q = new URLSearchParams(location.search);
  if (value) q.set(name, value); else q.delete(name);
  const s = q.toString();
  history.replaceState(null, '', `${location.pathname}${s ? `?${s}` : ''}`);
}

function Tabs({ tab, setTab, id }) {
  const tabs = [['log', 'Log'], ['metrics', 'Metrics'], ['outputs', 'Outputs']];
  const key = (e, i) => {
    let n = null;
    if (e.key === 'ArrowRight') n = (i + 1) % tabs.length;
    if (e.key === 'ArrowLeft') n = (i + tabs.length - 1) % tabs.length;
    if (n !== null) {
      e.preventDefault();
      setTab(tabs[n][0]);
      document.getElementById(`${id}-tab-${tabs[n][0]}`).focus();
    }
  };
  return (
    <div class="tabs" role="tablist" aria-label="Job details">
      {tabs.map(([k, label], i) => (
        <button key={k} type="button" role="tab" id={`${id}-tab-${k}`} aria-selected={tab === k ? 'true' : 'false'}
          aria-controls={`${id}-panel`} tabIndex={tab === k ? 0 : -1} onClick={() => setTab(k)} onKeyDown={(e) => key(e, i)}>
          {label}
        </button>
      ))}
    </div>
  );
}

function Metrics({ base, running }) {
  const charts = useModule(loadCharts);
  const [m, setM] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    const load = () => getJson(`${base}/metrics`).then((x) => live && setM(x), (e) => live && setError(e.message));
    load();
    // While the job runs, new samples arrive about once a second: a fresh look every 5 s.
    const t = running ? setInterval(load, 5000) : null;
    return () => { live = false; clearInterval(t); };
  }, [base, running]);
  if (error) return <p class="notice bad" role="alert">{error}</p>;
  if (!m || !charts) return <p class="boot">Loading metrics…</p>;
  return <charts.Charts m={m} />;
}

function Links({ run }) {
  const l = run.links || {};
  const items = [];
  if (l.commit) items.push(<a href={l.commit} target="_blank" rel="noopener noreferrer">commit {shortSha(run.sha)}</a>);
  else if (run.sha) items.push(<span>commit <code>{shortSha(run.sha)}</code></span>);
  if (l.pull_request) items.push(<a href={l.pull_request} target="_blank" rel="noopener noreferrer">pull request #{run.pull_request}</a>);
  for (const w of run.workflows || []) {
    for (const j of w.jobs || []) {
      if (j.pushed && j.pushed.url) items.push(<a href={j.pushed.url} target="_blank" rel="noopener noreferrer">results on {j.pushed.branch} ({shortSha(j.pushed.sha)})</a>);
      else if (j.pushed) items.push(<span>results pushed to {j.pushed.branch} <code>{shortSha(j.pushed.sha)}</code></span>);
    }
  }
  if (!items.length) return null;
  return <p class="links">{items.map((x, i) => <span key={i}>{i > 0 && ' · '}{x}</span>)}</p>;
}

export function RunPage({ id, session }) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState('');
  const [now, setNow] = useState(Date.now() / 1000);
  const q = new URLSearchParams(location.search);
  const [wanted, setWanted] = useState(q.get('job') || '');
  const [tab, setTabState] = useState(q.get('tab') || 'log');
  const [follow, setFollow] = useState(null);  // the log offset to stream from, or null
  const logHandle = useRef(null);
  const followRef = useRef(null);
  const dag = useModule(loadDag);

  useEffect(() => {
    let live = true;
    getJson(`/api/runs/${id}`).then((r) => live && setRun(r), (e) => live && setError(e.message));
    const t = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => { live = false; clearInterval(t); };
  }, [id]);

  const sel = run ? pickJob(run, wanted) : null;
  const job = sel ? sel.j : null;
  // A run of wfrun serve may hold several workflows: their jobs are named W.JOB in the API.
  const jobSeg = job ? (run.workflows.length > 1 ? `${sel.w}.${job.name}` : job.name) : '';
  const active = run ? ACTIVE.has(run.status) : false;
  const jobRunning = job ? (job.state === 'running' || job.state === 'pending') && active : false;
  const base = job ? `/api/runs/${id}/jobs/${encodeURIComponent(jobSeg)}` : '';
  followRef.current = follow;

  // One stream for the page while the run is live: the run's changes, and the followed job's
  // new log lines from `follow` on.
  const streamJob = follow !== null && job ? jobSeg : '';
  useEffect(() => {
    if (!run || !ACTIVE.has(run.status)) return undefined;
    const params = () => (streamJob ? { job: streamJob, log: followRef.current } : {});
    const s = stream(`/api/runs/${id}/events`, params(), {
      params,
      run: (r) => setRun(r),
      log: (d) => logHandle.current && logHandle.current.log(d),
      skip: (d) => logHandle.current && logHandle.current.skip(d),
      end: () => s.close(),
    });
    return () => s.close();
  }, [id, !!run && ACTIVE.has(run.status), streamJob, follow]);

  useEffect(() => {
    if (run) document.title = `${run.workflow_name || run.workflow || `Run ${id}`}${run.number ? ` #${run.number}` : ''} · ${run.status} · wfrun`;
  }, [run && run.status]);

  const select = (w, name) => {
    const v = run.workflows.length > 1 ? `${w}/${name}` : name;
    setWanted(v);
    setFollow(null);
    setQuery('job', v);
  };
  const setTab = (t) => { setTabState(t); setQuery('tab', t === 'log' ? '' : t); };

  const act = async (what) => {
    setBusy(what);
    setNotice('');
    try {
      const r = await post(`/api/runs/${id}/${what}`);
      if (what === 'rerun') {
        if (r.id) navigate(`/runs/${r.id}`);
        else setNotice('The run was started again; it shows in the runs list once it has begun.');
      } else {
        setNotice('Cancelling: the running jobs get SIGTERM, then SIGKILL.');
        setRun({ ...run, can_cancel: false });
      }
    } catch (e) {
      setNotice(e.message);
    } finally {
      setBusy('');
    }
  };

  if (error) return <p class="notice bad" role="alert">{error}</p>;
  if (!run) return <p class="boot" aria-busy="true">Loading run {id}…</p>;
  const full = session.access === 'full';
  const took = run.duration_s !== null && run.duration_s !== undefined ? run.duration_s
    : run.started_at ? now - run.started_at : null;
  const branch = run.branch || (run.pull_request ? `PR #${run.pull_request}` : run.ref);
  return (
    <article aria-labelledby="run-title">
      {full && <nav class="crumbs" aria-label="Breadcrumb"><a href="/" onClick={linkClick}>Runs</a> / <span>run {run.id}</span></nav>}
      <div class="run-head card">
        <div class="title-row">
          <h1 id="run-title">
            <Status status={run.status} />
            <span class="wf">{run.workflow_name || run.workflow || `Run ${run.id}`}</span>
            {run.number ? <span class="num"> #{run.number}</span> : null}
          </h1>
          {full && (
            <div class="actions">
              {run.can_cancel && <button type="button" class="danger" disabled={!!busy} onClick={() => act('cancel')}>{busy === 'cancel' ? 'Cancelling…' : 'Cancel'}</button>}
              {run.can_rerun && <button type="button" disabled={!!busy} onClick={() => act('rerun')}>{busy === 'rerun' ? 'Starting…' : 'Re-run'}</button>}
            </div>
          )}
        </div>
        <dl class="meta">
          <div><dt>Trigger</dt><dd>{TRIGGERS[run.trigger] || run.trigger || run.event || '–'}</dd></div>
          {run.repo && <div><dt>Repository</dt><dd>{run.repo}</dd></div>}
          {branch && <div><dt>Branch</dt><dd><span class="branch">{branch}</span></dd></div>}
          <div><dt>Started</dt><dd>{run.started_at ? absTime(run.started_at) : 'not yet'}</dd></div>
          <div><dt>Duration</dt><dd>{duration(took)}</dd></div>
          <div><dt>GPU time</dt><dd>{gpuTime(run.gpu_seconds)}</dd></div>
        </dl>
        <Links run={run} />
        {run.message && <p class="message">{run.message}</p>}
        {run.cancel_requested && <p class="notice">A cancel was asked for; the jobs are being stopped.</p>}
        {notice && <p class="notice" role="status">{notice}</p>}
      </div>

      {(run.workflows || []).length === 0 && (
        <p class="notice">{active ? 'Waiting for the run to start its workflows…' : 'No workflow ran.'}</p>
      )}
      {(run.workflows || []).map((w, wi) => (
        <section key={w.run_id || wi} class="card workflow" aria-label={`Workflow ${w.name}`}>
          {run.workflows.length > 1 && <h2><Status status={w.status} small /> {w.name} <code class="path">{w.path}</code></h2>}
          {w.message && <p class="message">{w.message}</p>}
          {(w.jobs || []).length > 0 && (dag
            ? <dag.Dag jobs={w.jobs} now={now} title={`Jobs of ${w.name}`}
                selected={sel && sel.w === wi ? job.name : null} onSelect={(name) => select(wi, name)} />
            : <p class="boot">Laying out {w.jobs.length} jobs…</p>)}
        </section>
      ))}

      {job && (
        <section class="card job" aria-labelledby="job-title">
          <div class="job-head">
            <h2 id="job-title"><Status status={job.state} small /> {job.name}</h2>
            <span class="muted">
              {job.uses}{job.started_at ? ` · ${duration((job.finished_at || now) - job.started_at)}` : ''}
              {job.exit_code !== null && job.exit_code !== undefined ? ` · exit ${job.exit_code}` : ''}
              {job.signal ? ` · signal ${job.signal}` : ''}{job.attempts > 1 ? ` · ${job.attempts} attempts` : ''}
              {job.gpus && job.gpus.length ? ` · GPU ${job.gpus.join(', ')}` : ''}
            </span>
          </div>
          {job.message && job.state !== 'succeeded' && <p class="message">{job.message}</p>}
          <Tabs tab={tab} setTab={setTab} id="job" />
          <div id="job-panel" role="tabpanel" aria-labelledby={`job-tab-${tab}`}>
            {tab === 'log' && (
              <LogView key={base} logUrl={`${base}/log`} jobName={job.name} running={jobRunning}
                handle={logHandle} onFollow={(o) => setFollow(o === null ? null : o)} />
            )}
            {tab === 'metrics' && <Metrics base={base} running={jobRunning} />}
            {tab === 'outputs' && <Outputs job={job} base={base} />}
          </div>
        </section>
      )}
    </article>
  );
}
