// A job's recorded metrics as uPlot charts: GPU utilisation, GPU memory and power (one line per
// GPU), and the job's CPU and resident memory.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const PALETTE = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7d8c', '#cf6a00'];

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function Chart({ title, unit, t, series, names }) {
  const el = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const node = el.current;
    if (!node) return undefined;
    const fg = cssVar('--muted', '#59636e');
    const grid = cssVar('--line', '#d1d9e0');
    const opts = {
      width: Math.max(node.clientWidth, 240),
      height: 170,
      legend: { show: names.length > 1 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56,
          values: (u, vals) => vals.map((v) => (v === null ? '' : `${+v.toFixed(1)}${unit === '%' ? '%' : ''}`)) },
      ],
      series: [{}, ...names.map((n, i) => ({
        label: n, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false,
        value: (u, v) => (v === null || v === undefined ? '–' : `${+v.toFixed(1)} ${unit}`),
      }))],
    };
    plot.current = new uPlot(opts, [t, ...series], node);
    const ro = new ResizeObserver(() => {
      if (plot.current && node.clientWidth) plot.current.setSize({ width: node.clientWidth, height: 170 });
    });
    ro.observe(node);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, [names.join('|')]);
  useEffect(() => {
    if (plot.current) plot.current.setData([t, ...series]);
  }, [t, series]);
  const last = series.map((s) => { for (let i = s.length - 1; i >= 0; i--) if (s[i] !== null) return s[i]; return null; });
  const summary = names.map((n, i) => `${n}: ${last[i] === null ? 'no data' : `${+last[i].toFixed(1)} ${unit}`}`).join(', ');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={el} class="plot" role="img" aria-label={`${title}, latest ${summary}`} />
    </figure>
  );
}

export function Charts({ m }) {
  if (!m || !m.t || m.t.length === 0) {
    return <p class="muted">No metrics recorded for this job (it ran with <code>--metrics-interval 0</code>, or too briefly for a sample).</p>;
  }
  const gpuNames = m.gpus.map((g) => `GPU ${g}`);
  const charts = [];
  if (m.gpus.length) {
    charts.push(<Chart key="u" title="GPU utilisation" unit="%" t={m.t} series={m.util} names={gpuNames} />);
    charts.push(<Chart key="m" title="GPU memory" unit="MiB" t={m.t} series={m.mem_mib} names={gpuNames} />);
    charts.push(<Chart key="p" title="GPU power" unit="W" t={m.t} series={m.power_w} names={gpuNames} />);
  }
  charts.push(<Chart key="c" title="CPU" unit="%" t={m.t} series={[m.cpu_pct]} names={['CPU']} />);
  charts.push(<Chart key="r" title="Resident memory" unit="MiB" t={m.t} series={[m.rss_mib]} names={['RSS']} />);
  return (
    <div>
      {!m.gpus.length && <p class="muted">This job held no GPU; CPU and memory only.</p>}
      <div class="charts">{charts}</div>
      <p class="muted small">{m.samples} samples{m.t.length < m.samples ? `, each point the peak of ${Math.ceil(m.samples / m.t.length)}` : ''}.</p>
    </div>
  );
}
