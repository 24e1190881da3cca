// A job's outputs: strings and dataset versions as values, volumes and datasets as file lists
// with download links, executed notebooks (.ipynb) rendered in a sandboxed frame.
import { useState } from 'preact/hooks';
import { getJson, url } from '../api.js';
import { bytes } from '../util.js';

function Files({ base, name }) {
  const [files, setFiles] = useState(null);
  const [error, setError] = useState('');
  const [nb, setNb] = useState(null);
  const load = async () => {
    try { setFiles(await getJson(`${base}/outputs/${encodeURIComponent(name)}`)); } catch (e) { setError(e.message); }
  };
  if (!files) {
    return (
      <>
        <button type="button" onClick={load}>Show files</button>
        {error && <p class="notice bad" role="alert">{error}</p>}
      </>
    );
  }
  const file = (p, extra = {}) => url(`${base}/outputs/${encodeURIComponent(name)}/file`, { path: p, ...extra });
  return (
    <div class="files">
      {files.files.length === 0 && <p class="muted">No files.</p>}
      <ul>
        {files.files.map((f) => (
          <li key={f.path}>
            <a href={file(f.path)} download>{f.path}</a> <span class="muted">{bytes(f.size)}</span>
            {f.path.endsWith('.ipynb') && (
              <button type="button" class="small" aria-expanded={nb === f.path ? 'true' : 'false'}
                onClick={() => setNb(nb === f.path ? null : f.path)}>
                {nb === f.path ? 'Hide notebook' : 'View notebook'}
              </button>
            )}
          </li>
        ))}
      </ul>
      {files.truncated && <p class="muted">Only the first {files.files.length} files are listed.</p>}
      {nb && (
        <iframe class="notebook" sandbox="" src={file(nb, { view: 'notebook' })} title={`Executed notebook ${nb}`} />
      )}
    </div>
  );
}

export function Outputs({ job, base }) {
  const outputs = job.outputs || [];
  if (!outputs.length && !job.pushed) return <p class="muted">This job declares no outputs.</p>;
  return (
    <div class="outputs">
      {job.pushed && (
        <p class="pushed">
          Pushed <code>{job.pushed.sha.slice(0, 7)}</code> to <strong>{job.pushed.branch}</strong>
          {job.pushed.url && <> · <a href={job.pushed.url} rel="noopener noreferrer" target="_blank">see it on GitHub</a></>}
          {job.pushed.pull_request && <> · <a href={job.pushed.pull_request} rel="noopener noreferrer" target="_blank">pull request</a></>}
        </p>
      )}
      {outputs.length > 0 && (
        <table class="kv">
          <caption class="sr-only">Outputs of job {job.name}</caption>
          <thead><tr><th scope="col">Output</th><th scope="col">Type</th><th scope="col">Value</th></tr></thead>
          <tbody>
            {outputs.map((o) => (
              <tr key={o.name}>
                <th scope="row">{o.name}</th>
                <td>{o.type}</td>
                <td>
                  {o.value ? <code class="value">{o.value}</code> : null}
                  {o.files ? <Files base={base} name={o.name} /> : (!o.value && <span class="muted">none</span>)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
