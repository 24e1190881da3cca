// A job's log: the tail first, earlier parts on request, new lines as the run page's event
// stream delivers them. Only the rows on screen are in the DOM (fixed row height), and at most
// MAX_LINES lines are kept, so a job printing 10,000 lines a second neither freezes the tab nor
// grows it without bound. ANSI colours become class names (never style attributes); the text
// is always text, never HTML.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import Anser from 'anser';
import { getText, getJson, url } from '../api.js';
import { bytes } from '../util.js';

const ROW = 20;             // px, as in app.css (.log .ln)
export const LOG_WINDOW = 256 * 1024;  // bytes per request
const WINDOW = LOG_WINDOW;
const MAX_LINES = 50000;    // kept while following
const MAX_LOADED = 200000;  // kept when reading back
const MAX_CHARS = 4000;     // shown of one line

/** The log's lines in chunks, each a contiguous byte range. */
class Buffer {
  constructor() { this.reset(); }
  reset() {
    this.chunks = [];  // {start, end, lines}
    this.total = 0;
    this.startLine = null;  // number of the first line, when known
    this.version = 0;
  }
  get start() { return this.chunks.length ? this.chunks[0].start : 0; }
  get end() { return this.chunks.length ? this.chunks[this.chunks.length - 1].end : 0; }
  static split(text) {
    const lines = text.split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }
  append(start, end, text, keep = MAX_LINES) {
    if (this.chunks.length && start !== this.end) {
      const gap = start - this.end;
      this.chunks.push({ start: this.end, end: start, lines: [{ gap }] });
      this.total += 1;
      this.startLine = null;
    }
    const lines = Buffer.split(text);
    this.chunks.push({ start, end, lines });
    this.total += lines.length;
    this.trimFront(keep);
    this.version++;
  }
  prepend(start, end, text) {
    const lines = Buffer.split(text);
    this.chunks.unshift({ start, end, lines });
    this.total += lines.length;
    if (this.startLine !== null) this.startLine -= lines.length;
    if (start === 0) this.startLine = 1;
    this.version++;
  }
  trimFront(keep) {
    while (this.total > keep && this.chunks.length > 1) {
      const c = this.chunks.shift();
      this.total -= c.lines.length;
      if (this.startLine !== null) this.startLine += c.lines.length;
    }
    if (this.total > keep && this.chunks.length === 1) {
      const c = this.chunks[0];
      const drop = this.total - keep;
      c.lines = c.lines.slice(drop);
      this.total -= drop;
      if (this.startLine !== null) this.startLine += drop;
      c.start = -1;  // unknown now: only "load earlier" cares, and it is off while following
    }
  }
  line(i) {
    for (const c of this.chunks) {
      if (i < c.lines.length) return c.lines[i];
      i -= c.lines.length;
    }
    return '';
  }
}

function clean(line) {
  const r = line.lastIndexOf('\r', line.length - 2);
  if (r >= 0) line = line.slice(r + 1);  // a progress bar: what the terminal would show last
  if (line.endsWith('\r')) line = line.slice(0, -1);
  return line;
}

function marked(text, term) {
  if (!term) return text;
  const low = text.toLowerCase();
  const t = term.toLowerCase();
  const out = [];
  let at = 0;
  let i;
  while ((i = low.indexOf(t, at)) >= 0) {
    if (i > at) out.push(text.slice(at, i));
    out.push(<mark>{text.slice(i, i + t.length)}</mark>);
    at = i + t.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

function Line({ text, term }) {
  let s = clean(text);
  let more = 0;
  if (s.length > MAX_CHARS) {
    more = s.length - MAX_CHARS;
    s = s.slice(0, MAX_CHARS);
  }
  let parts;
  if (s.indexOf('\x1b') < 0) {
    parts = marked(s, term);
  } else {
    parts = Anser.ansiToJson(s, { use_classes: true, remove_empty: true }).map((p, k) => {
      const cls = [p.fg, p.bg && `${p.bg}-bg`, ...(p.decorations || []).map((d) => `ansi-${d}`)]
        .filter(Boolean).join(' ');
      return cls ? <span key={k} class={cls}>{marked(p.content, term)}</span> : marked(p.content, term);
    });
  }
  return <>{parts}{more > 0 && <span class="cut"> … {more.toLocaleString()} more characters (Raw shows them)</span>}</>;
}

/**
 * props: logUrl (the job's /log endpoint), running, onFollow(offset|null) (the run page opens
 * its event stream from that offset), handle (a ref the run page calls with stream events).
 */
export function LogView({ logUrl, jobName, running, onFollow, handle }) {
  const buf = useRef(new Buffer()).current;
  const box = useRef(null);
  const [, setVersion] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  const [following, setFollowing] = useState(running);
  const [size, setSize] = useState(0);
  const [skipped, setSkipped] = useState(0);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(true);
  const [query, setQuery] = useState('');
  const [term, setTerm] = useState('');
  const [hits, setHits] = useState(null);
  const [hitLine, setHitLine] = useState(null);
  const auto = useRef(false);  // the next scroll event is ours
  const frame = useRef(0);

  const redraw = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setVersion(buf.version);
    });
  };

  const loadTail = async () => {
    setLoading(true);
    setError('');
    try {
      const res = await getText(logUrl, { from: -WINDOW });
      const text = await res.text();
      const start = Number(res.headers.get('X-Log-Start'));
      const end = Number(res.headers.get('X-Log-End'));
      buf.reset();
      buf.append(start, end, text);
      if (start === 0) buf.startLine = 1;
      setSize(Number(res.headers.get('X-Log-Size')));
      setSkipped(0);
      setHitLine(null);
      setFollowing(running);
      auto.current = true;
      redraw();
      if (running) onFollow(end);
      requestAnimationFrame(() => performance.mark('wfrun:log-tail-painted'));
    } catch (e) {
      setError(e.message);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    loadTail();
    return () => onFollow(null);
  }, [logUrl]);

  // What the run page's stream brings.
  useEffect(() => {
    handle.current = {
      log(d) {
        if (d.start < buf.end) return;  // already have it (a reconnect)
        buf.append(d.start, d.end, d.text);
        setSize(d.size);
        redraw();
      },
      skip(d) {
        setSkipped((n) => n + (d.to - d.from));
        redraw();
      },
    };
    return () => { handle.current = null; };
  }, [logUrl]);

  useEffect(() => {
    if (!box.current) return undefined;
    const ro = new ResizeObserver(() => box.current && setHeight(box.current.clientHeight));
    ro.observe(box.current);
    return () => ro.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (following && el.scrollTop + el.clientHeight < el.scrollHeight) {
      auto.current = true;
      el.scrollTop = el.scrollHeight;
    }
  });

  const onScroll = (e) => {
    const el = e.currentTarget;
    setScrollTop(el.scrollTop);
    if (auto.current) {
      auto.current = false;
      return;
    }
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW * 2;
    if (following && !atBottom) setFollowing(false);
    else if (!following && atBottom && running && buf.end >= size && !hitLine) setFollowing(true);
  };

  const loadEarlier = async () => {
    if (buf.start <= 0) return;
    try {
      const res = await getText(logUrl, { from: Math.max(0, buf.start - WINDOW), to: buf.start });
      const text = await res.text();
      const start = Number(res.headers.get('X-Log-Start'));
      const end = Number(res.headers.get('X-Log-End'));
      const before = buf.total;
      buf.prepend(start, end, text);
      setFollowing(false);
      const el = box.current;
      const added = buf.total - before;
      redraw();
      requestAnimationFrame(() => { if (el) { auto.current = true; el.scrollTop += added * ROW; } });
    } catch (e) {
      setError(e.message);
    }
  };

  const search = async (e) => {
    e.preventDefault();
    const q = query.trim();
    setTerm(q);
    if (!q) { setHits(null); return; }
    try {
      setHits({ loading: true, hits: [] });
      setHits(await getJson(`${logUrl}/search`, { q, limit: 200 }));
    } catch (err) {
      setHits({ error: err.message, hits: [] });
    }
  };

  const jump = async (hit) => {
    try {
      const [a, b] = await Promise.all([
        getText(logUrl, { from: Math.max(0, hit.offset - 64 * 1024), to: hit.offset }),
        getText(logUrl, { from: hit.offset, to: hit.offset + 192 * 1024 }),
      ]);
      const ta = await a.text();
      const tb = await b.text();
      buf.reset();
      buf.append(Number(a.headers.get('X-Log-Start')), Number(a.headers.get('X-Log-End')), ta, MAX_LOADED);
      const before = buf.total;
      buf.append(Number(b.headers.get('X-Log-Start')), Number(b.headers.get('X-Log-End')), tb, MAX_LOADED);
      buf.startLine = hit.line - before;
      setFollowing(false);
      onFollow(null);
      setHitLine(hit.line);
      redraw();
      requestAnimationFrame(() => {
        const el = box.current;
        if (el) { auto.current = true; el.scrollTop = Math.max(0, (before - 3) * ROW); el.focus(); }
      });
    } catch (err) {
      setError(err.message);
    }
  };

  const follow = () => {
    setTerm(term);
    loadTail();
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW) - 10);
  const count = Math.ceil(height / ROW) + 20;
  const rows = [];
  for (let i = first; i < Math.min(buf.total, first + count); i++) {
    const l = buf.line(i);
    const no = buf.startLine !== null ? buf.startLine + i : null;
    rows.push(
      <div key={i} class={`ln${no !== null && no === hitLine ? ' hit' : ''}`} style={{ top: `${i * ROW}px` }}>
        <span class="no" aria-hidden="true">{no !== null ? no : ''}</span>
        {typeof l === 'object'
          ? <span class="gap">… {bytes(l.gap)} not loaded</span>
          : <span class="tx"><Line text={l} term={term} /></span>}
      </div>,
    );
  }

  return (
    <div class="logview">
      <div class="logbar">
        <form class="logsearch" role="search" aria-label={`Find lines in the log of ${jobName}`} onSubmit={search}>
          <label class="sr-only" for="logq">Search the log</label>
          <input id="logq" type="search" placeholder="Search the whole log" value={query}
            onInput={(e) => setQuery(e.currentTarget.value)} />
          <button type="submit">Search</button>
        </form>
        <div class="logactions">
          {buf.start > 0 && <button type="button" onClick={loadEarlier}>Load earlier</button>}
          {running && (
            <button type="button" aria-pressed={following ? 'true' : 'false'} onClick={follow} class={following ? 'on' : ''}>
              {following ? 'Following' : 'Follow'}
            </button>
          )}
          <a href={url(logUrl)} target="_blank" rel="noopener">Raw</a>
          <a href={url(logUrl, { download: 1 })}>Download</a>
        </div>
      </div>
      {hits && (
        <div class="hits" role="region" aria-label="Search results">
          {hits.loading && <p>Searching…</p>}
          {hits.error && <p class="notice bad">{hits.error}</p>}
          {!hits.loading && !hits.error && (
            <p class="hitcount">{hits.hits.length ? `${hits.hits.length}${hits.truncated ? '+' : ''} matching lines` : 'No line matches.'}
              {' '}<button type="button" class="link" onClick={() => { setHits(null); setTerm(''); }}>Close</button></p>
          )}
          <ol>
            {hits.hits.map((h) => (
              <li key={h.offset}>
                <button type="button" class="hit-btn" onClick={() => jump(h)}>
                  <span class="no">{h.line}</span><span class="tx"><Line text={h.text} term={term} /></span>
                </button>
              </li>
            ))}
          </ol>
        </div>
      )}
      {error && <p class="notice bad" role="alert">{error}</p>}
      {skipped > 0 && (
        <p class="notice">The job prints faster than this page can show: {bytes(skipped)} were skipped. <a href={url(logUrl)} target="_blank" rel="noopener">Raw</a> has everything.</p>
      )}
      <div class="log" ref={box} tabIndex="0" role="log" style={{ height: `${Math.min(Math.max(buf.total, 4) * ROW + 16, 640)}px` }} aria-live="off" aria-busy={loading ? 'true' : 'false'}
        aria-label={`Log of job ${jobName}, ${buf.total} lines shown`} onScroll={onScroll}>
        <div class="spacer" style={{ height: `${Math.max(buf.total * ROW, 1)}px` }}>{rows}</div>
        {!loading && buf.total === 0 && <p class="empty-log">{running ? 'No output yet.' : 'This job printed nothing.'}</p>}
      </div>
      <p class="logfoot">{buf.total.toLocaleString()} lines shown · {bytes(size)} in all{following ? ' · following' : ''}</p>
    </div>
  );
}
