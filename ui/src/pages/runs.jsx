// The runs list: filters and paging in the address, kept live by one event stream.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getJson, stream } from '../api.js';
import { Status } from '../components/status.jsx';
import { absTime, duration, gpuTime, linkClick, navigate, relTime, shortSha, TRIGGERS } from '../util.js';

const FILTERS = [
  ['status', 'Status'],
  ['workflow', 'Workflow'],
  ['repo', 'Repository'],
  ['branch', 'Branch'],
  ['trigger', 'Trigger'],
];
const PARAMS = [...FILTERS.map(([k]) => k), 'before', 'after'];

export function currentParams() {
  const q = new URLSearchParams(location.search);
  const p = {};
  for (const k of PARAMS) if (q.get(k)) p[k] = q.get(k);
  return p;
}

function href(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `/?${s}` : '/';
}

function Filters({ params, facets }) {
  const change = (name, value) => {
    const next = { ...params, [name]: value };
    delete next.before;
    delete next.after;
    navigate(href(next));
  };
  const any = FILTERS.some(([k]) => params[k]);
  return (
    <form class="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
      {FILTERS.map(([name, label]) => {
        const values = (facets && facets[name]) || [];
        const current = params[name] || '';
        const options = current && !values.includes(current) ? [current, ...values] : values;
        return (
          <label key={name} class="filter">
            <span>{label}</span>
            <select value={current} onChange={(e) => change(name, e.currentTarget.value)}>
              <option value="">All</option>
              {options.map((v) => <option key={v} value={v}>{name === 'trigger' ? (TRIGGERS[v] || v) : v}</option>)}
            </select>
          </label>
        );
      })}
      {any && <a class="clear" href="/" onClick={linkClick}>Clear filters</a>}
    </form>
  );
}

function RunRow({ run, now }) {
  const link = `/runs/${run.id}`;
  const open = (e) => {
    if (e.target.closest('a')) return;
    navigate(link);
  };
  const active = run.status === 'running' || run.status === 'queued';
  const took = active && run.started_at ? now - run.started_at : run.duration_s;
  const branch = run.branch || (run.pull_request ? `PR #${run.pull_request}` : run.ref);
  return (
    <tr class="row" onClick={open}>
      <td><Status status={run.status} /></td>
      <td class="name">
        <a href={link} onClick={linkClick}>{run.workflow_name || run.workflow || '(no workflow yet)'}</a>
        {run.number ? <span class="num"> #{run.number}</span> : null}
        <div class="sub">run {run.id}{run.jobs ? ` · ${run.jobs_done}/${run.jobs} jobs` : ''}</div>
      </td>
      <td>{TRIGGERS[run.trigger] || run.trigger || '–'}</td>
      <td class="repo">{run.repo || '–'}</td>
      <td class="ref">
        {branch ? <span class="branch">{branch}</span> : '–'}
        {run.sha && <code class="sha">{shortSha(run.sha)}</code>}
      </td>
      <td><time datetime={run.started_at ? new Date(run.started_at * 1000).toISOString() : undefined} title={absTime(run.started_at)}>{relTime(run.started_at, now)}</time></td>
      <td class="num-col">{duration(took)}</td>
      <td class="num-col gpu">{gpuTime(run.gpu_seconds)}</td>
    </tr>
  );
}

export function RunsPage() {
  const search = typeof location !== 'undefined' ? location.search : '';
  const params = useMemo(currentParams, [search]);
  const [page, setPage] = useState(null);
  const [facets, setFacets] = useState(null);
  const [error, setError] = useState('');
  const [now, setNow] = useState(Date.now() / 1000);
  document.title = 'Runs · wfrun';

  useEffect(() => {
    let live = true;
    setError('');
    // The filters' values after the table: on a big store they cost the server more than a page.
    const facets = () => getJson('/api/runs/facets').then((f) => live && setFacets(f), () => {});
    getJson('/api/runs', params).then((p) => {
      if (!live) return;
      setPage(p);
      performance.mark('wfrun:runs-data');
      facets();
    }, (e) => { if (live) setError(e.message); facets(); });
    const s = stream('/api/events', params, { runs: (p) => live && setPage(p) });
    return () => { live = false; s.close(); };
  }, [search]);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    if (page) requestAnimationFrame(() => performance.mark('wfrun:runs-painted'));
  }, [page]);

  const runs = page ? page.runs : [];
  return (
    <section aria-labelledby="runs-title">
      <div class="page-head">
        <h1 id="runs-title">Runs</h1>
      </div>
      <Filters params={params} facets={facets} />
      {error && <p class="notice bad" role="alert">{error}</p>}
      {!page && !error && <p class="boot" aria-busy="true">Loading runs…</p>}
      {page && runs.length === 0 && (
        <div class="empty card">
          {Object.keys(params).length
            ? <p>No runs match these filters. <a href="/" onClick={linkClick}>Clear them</a>.</p>
            : <p>No runs yet. Run a workflow with <code>wfrun run workflow.yaml</code> and it appears here as it starts.</p>}
        </div>
      )}
      {runs.length > 0 && (
        <div class="table-wrap">
          <table class="runs">
            <caption class="sr-only">Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Status</th><th scope="col">Workflow</th><th scope="col">Trigger</th>
                <th scope="col" class="repo">Repository</th><th scope="col" class="ref">Branch · commit</th>
                <th scope="col">Started</th><th scope="col" class="num-col">Duration</th>
                <th scope="col" class="num-col gpu">GPU time</th>
              </tr>
            </thead>
            <tbody>{runs.map((r) => <RunRow key={r.id} run={r} now={now} />)}</tbody>
          </table>
        </div>
      )}
      {page && (page.newer || page.older) && (
        <nav class="pager" aria-label="Pages of runs">
          {page.newer
            ? <a href={href({ ...params, before: '', after: page.newer })} onClick={linkClick} rel="prev">← Newer</a>
            : <span />}
          {page.older
            ? <a href={href({ ...params, after: '', before: page.older })} onClick={linkClick} rel="next">Older →</a>
            : <span />}
        </nav>
      )}
    </section>
  );
}
