// wfrun serve's workflows: per configured repository, the workflow files at its default branch,
// each with a form for its inputs and a Run button (POST /api/runs, the manual trigger).
import { useEffect, useState } from 'preact/hooks';
import { getJson, post } from '../api.js';
import { navigate } from '../util.js';

function WorkflowForm({ repo, refName, wf }) {
  const inputs = wf.inputs || [];
  const [values, setValues] = useState(Object.fromEntries(inputs.map((i) => [i.name, i.default ?? ''])));
  const [ref, setRef] = useState(refName || '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const idBase = `wf-${repo}-${wf.path}`.replace(/[^A-Za-z0-9_-]/g, '-');
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await post('/api/runs', { repo, ref, workflow: wf.path, inputs: values });
      navigate(r.runs && r.runs.length ? `/runs/${r.runs[0]}` : '/');
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return (
    <form class="wf-form" onSubmit={submit} aria-labelledby={`${idBase}-title`}>
      <h3 id={`${idBase}-title`}>{wf.name} <code class="path">{wf.path}</code></h3>
      {wf.error && <p class="notice bad">{wf.error}</p>}
      <div class="fields">
        <label for={`${idBase}-ref`}><span>Branch or ref</span>
          <input id={`${idBase}-ref`} value={ref} onInput={(e) => setRef(e.currentTarget.value)} required />
        </label>
        {inputs.map((i) => (
          <label key={i.name} for={`${idBase}-${i.name}`}>
            <span>{i.name}{i.required ? ' (required)' : ''} <small class="muted">{i.type}</small></span>
            <input id={`${idBase}-${i.name}`} value={values[i.name]} required={i.required}
              onInput={(e) => setValues({ ...values, [i.name]: e.currentTarget.value })} />
          </label>
        ))}
      </div>
      <button type="submit" class="primary" disabled={busy || !!wf.error}>{busy ? 'Starting…' : 'Run'}</button>
      {error && <p class="notice bad" role="alert">{error}</p>}
    </form>
  );
}

export function WorkflowsPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  document.title = 'Workflows · wfrun';
  useEffect(() => {
    getJson('/api/workflows').then(setData, (e) => setError(e.message));
  }, []);
  return (
    <section aria-labelledby="wf-title">
      <div class="page-head"><h1 id="wf-title">Workflows</h1></div>
      {error && <p class="notice bad" role="alert">{error}</p>}
      {!data && !error && <p class="boot">Reading the repositories' workflows…</p>}
      {data && data.repos.length === 0 && <div class="card empty"><p>No repository is configured in <code>server.yaml</code>.</p></div>}
      {data && data.repos.map((r) => (
        <section key={r.repo} class="card repo" aria-label={`Repository ${r.repo}`}>
          <h2>{r.repo} <span class="muted small">at {r.ref || 'its default branch'}{r.sha ? ` (${r.sha.slice(0, 7)})` : ''}</span></h2>
          {r.error && <p class="notice bad">{r.error}</p>}
          {!r.error && r.workflows.length === 0 && <p class="muted">No workflow files in .wfrun/workflows or .gradient/workflows.</p>}
          {r.workflows.map((w) => <WorkflowForm key={w.path} repo={r.repo} refName={r.ref} wf={w} />)}
        </section>
      ))}
    </section>
  );
}
