// This machine's GPUs: what each is doing now and which job holds it.
import { useEffect, useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { linkClick } from '../util.js';

function Meter({ label, value, max, text }) {
  const pct = max > 0 && value >= 0 ? Math.min(100, (100 * value) / max) : 0;
  return (
    <div class="meter-row">
      <span class="meter-label">{label}</span>
      <meter min="0" max={max > 0 ? max : 100} value={value >= 0 ? value : 0} aria-label={`${label}: ${text}`}
        high={max * 0.9} optimum={0} low={max * 0.5} />
      <span class="meter-text">{value >= 0 ? text : 'not reported'}</span>
      <span class="sr-only">{Math.round(pct)}%</span>
    </div>
  );
}

export function GpusPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  document.title = 'GPUs · wfrun';
  useEffect(() => {
    let live = true;
    const load = () => getJson('/api/gpus').then((d) => { if (live) { setData(d); setError(''); } }, (e) => live && setError(e.message));
    load();
    const t = setInterval(load, 3000);
    return () => { live = false; clearInterval(t); };
  }, []);
  return (
    <section aria-labelledby="gpus-title">
      <div class="page-head">
        <h1 id="gpus-title">GPUs</h1>
        {data && <span class="muted">found by {data.source}{data.source === 'simulated' ? ' (WFRUN_FAKE_GPUS)' : ''}</span>}
      </div>
      {error && <p class="notice bad" role="alert">{error}</p>}
      {!data && !error && <p class="boot">Looking for GPUs…</p>}
      {data && (data.warnings || []).map((w, i) => <p key={i} class="notice">{w}</p>)}
      {data && data.gpus.length === 0 && (
        <div class="card empty"><p>No NVIDIA GPU found on this machine. Jobs run on the CPU; <code>wfrun gpus</code> says where it looked.</p></div>
      )}
      {data && data.gpus.length > 0 && (
        <ul class="gpus">
          {data.gpus.map((g) => (
            <li key={g.index} class="card gpu">
              <h2><span class="gpu-index">GPU {g.index}</span> {g.name}</h2>
              <p class="holder">
                {g.holder
                  ? <>Held by job <strong>{g.holder.job}</strong> of {g.holder.href ? <a href={g.holder.href} onClick={linkClick}>{g.holder.workflow} (run {g.holder.run_id})</a> : `${g.holder.workflow} (run ${g.holder.run_id})`}</>
                  : <span class="muted">Free: no wfrun job holds it</span>}
              </p>
              <Meter label="Utilisation" value={g.utilization_pct ?? -1} max={100} text={`${g.utilization_pct}%`} />
              <Meter label="Memory" value={g.memory_used_mib ?? -1} max={g.memory_total_mib || 0}
                text={`${((g.memory_used_mib || 0) / 1024).toFixed(1)} / ${((g.memory_total_mib || 0) / 1024).toFixed(0)} GiB`} />
              <Meter label="Power" value={g.power_w ?? -1} max={g.power_limit_w || 0}
                text={g.power_limit_w > 0 ? `${Math.round(g.power_w)} / ${Math.round(g.power_limit_w)} W` : `${Math.round(g.power_w)} W`} />
              {g.temperature_c !== null && g.temperature_c >= 0 && <p class="muted small">{g.temperature_c} °C</p>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
