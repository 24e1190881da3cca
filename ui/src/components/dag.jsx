// A workflow's jobs as a graph laid out by dagre: one node per job with its state (icon, word
// and colour), an arrow per `needs`. Each node is a button: click, Enter or Space selects the
// job. Laid out again only when the graph's shape changes, not its states.
import { useMemo } from 'preact/hooks';
import { layout, graphlib } from '@dagrejs/dagre';
import { tone, ICONS, duration } from '../util.js';

const W = 176;
const H = 48;

function shapeKey(jobs) {
  return jobs.map((j) => `${j.name}<${(j.needs || []).join(',')}`).join(';');
}

function lay(jobs) {
  const g = new graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 56, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const names = new Set(jobs.map((j) => j.name));
  for (const j of jobs) g.setNode(j.name, { width: W, height: H });
  for (const j of jobs) for (const n of j.needs || []) if (names.has(n)) g.setEdge(n, j.name);
  layout(g);
  const nodes = {};
  for (const n of g.nodes()) nodes[n] = g.node(n);
  const edges = g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points }));
  return { nodes, edges, width: g.graph().width || W, height: g.graph().height || H };
}

function path(points) {
  if (!points || points.length < 2) return '';
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i];
    const q = points[i + 1];
    const mx = (p.x + q.x) / 2;
    const my = (p.y + q.y) / 2;
    d += ` Q${p.x},${p.y} ${mx},${my}`;
  }
  const last = points[points.length - 1];
  return `${d} L${last.x},${last.y}`;
}

function label(name) {
  return name.length > 18 ? `${name.slice(0, 17)}…` : name;
}

export function Dag({ jobs, selected, onSelect, now, title }) {
  const key = shapeKey(jobs);
  const g = useMemo(() => lay(jobs), [key]);
  const byName = Object.fromEntries(jobs.map((j) => [j.name, j]));
  const keydown = (e, name) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(name);
    }
  };
  return (
    <div class="dag-wrap">
      <svg class="dag" role="group" aria-label={title} width={g.width} height={g.height}
        viewBox={`0 0 ${g.width} ${g.height}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow" />
          </marker>
        </defs>
        {g.edges.map((e) => {
          const t = tone(byName[e.to] ? byName[e.to].state : '');
          return <path key={`${e.from}>${e.to}`} class={`edge ${t}`} d={path(e.points)} marker-end="url(#arrow)" />;
        })}
        {jobs.map((j) => {
          const n = g.nodes[j.name];
          if (!n) return null;
          const t = tone(j.state);
          const x = n.x - W / 2;
          const y = n.y - H / 2;
          const took = j.started_at ? ((j.finished_at || now) - j.started_at) : null;
          const sel = selected === j.name;
          return (
            // SVG attributes keep their case: `tabindex`, not `tabIndex`, makes a node focusable.
            <g key={j.name} class={`node ${t}${sel ? ' selected' : ''}`} transform={`translate(${x},${y})`}
              role="button" tabindex="0" aria-pressed={sel ? 'true' : 'false'}
              aria-label={`job ${j.name}: ${j.state}${took !== null ? `, ${duration(took)}` : ''}`}
              onClick={() => onSelect(j.name)} onKeyDown={(e) => keydown(e, j.name)}>
              <title>{`${j.name} (${j.uses || 'job'}): ${j.state}`}</title>
              <rect width={W} height={H} rx="8" />
              <text class="ic" x="14" y={H / 2 + 5} aria-hidden="true">{ICONS[t]}</text>
              <text class="nm" x="30" y="20">{label(j.name)}</text>
              <text class="st" x="30" y="36">{j.state}{took !== null ? ` · ${duration(took)}` : ''}</text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
