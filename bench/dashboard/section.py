# Writes bench/dashboard's section of docs/benchmarks.md from measure.mjs's and run.sh's figures.
import json
import re
import sys

m = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
text = open(s["assets_cc"]).read()
assets = sum(len(g.split(",")) - 1 for g in re.findall(r"\{([0-9,\n]+)\}", text))
fh = m["firehose"]
samples = fh["samples"]
heap = [x["heap"] for x in samples if x.get("heap")]
rows = [x["rows"] for x in samples if x["rows"] > 0]
shown = [x for x in samples if x["last"] > 0]  # a sample may land on a "not loaded" gap row
steps = [b["last"] - a["last"] for a, b in zip(shown, shown[1:])]
ms = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
print("## Dashboard (bench/dashboard, issue 11)")
print()
print(f"`bench/dashboard/run.sh`: a store filled by `dashboard_fixture` ({s['runs']:,} runs, {s['jobs']:,} jobs; "
      f"{s['fill_s']:.0f} s to fill), a live `wfrun ui`, Debian's Chromium through playwright-core. Page times run "
      "from the navigation's start to the frame after the page rendered its data (a `performance.mark` in a "
      "requestAnimationFrame): median of 6 after a warm-up.")
if max(s["load_start"], 0) > s["cores"]:
    print()
    print(f"**The machine was loaded** (load average {s['load_start']} at the start on {s['cores']} cores, other "
          "builds and tests running): the page times wait for CPU as much as they work, and vary from run to run; "
          "the goals are for a machine that is not oversubscribed.")
print()
print("| what | figure | goal |")
print("|---|---|---|")
print(f"| runs page, first screen ({m['runs_rows']} rows of {s['runs']:,} runs) | **{m['runs_page_ms']['median']:.0f} ms** (all: {ms(m['runs_page_ms']['all'])}) | < 200 ms |")
print(f"| `wfrun runs -n 50` on the same store (the terminal's view; process start included) | {s['cli_ms']:.0f} ms | |")
print(f"| a job with a {s['log_mb']:,} MB log: its tail on screen | **{m['big_log_tail_ms']['median']:.0f} ms** (all: {ms(m['big_log_tail_ms']['all'])}); last line shown: `{m['big_log_last_line']}` | < 200 ms |")
if steps:
    print(f"| 10,000 lines/s for 30 s, followed: newest line on screen, every 2 s | +{min(steps):,} to +{max(steps):,} lines per 2 s; at the end: `{fh['end']['last']}` | keeps up |")
if rows:
    heap_txt = f"; JS heap {min(heap)/1e6:.0f}–{max(heap)/1e6:.0f} MB" if heap else ""
    print(f"| ... rows in the DOM while following | {min(rows)}–{max(rows)}{heap_txt} ({fh['end']['foot']}) | bounded |")
print(f"| binary: the dashboard library (text + data, an upper bound) + its embedded files (gzip) | {s['lib_bytes']/1e6:.2f} MB + {assets/1e3:.0f} KB | ≤ 5 MB |")
if s.get("base_strip"):
    print(f"| stripped binary without ({s['base_desc'] or 'BASELINE_WFRUN'}) / with the dashboard | {s['base_strip']/1e6:.2f} / {s['size_strip']/1e6:.2f} MB (+{(s['size_strip']-s['base_strip'])/1e6:.2f} MB) | ≤ +5 MB |")
mb = lambda kb: f"{kb/1024:.1f}"
print(f"| `wfrun serve` idle: RSS / of which its own (RssAnon) | {mb(s['serve_idle_kb'])} / {mb(s['serve_idle_anon_kb'])} MB | idle unchanged |")
if s.get("base_idle_kb"):
    print(f"| ... the same without the dashboard ({s['base_desc'] or 'BASELINE_WFRUN'}) | {mb(s['base_idle_kb'])} / {mb(s['base_idle_anon_kb'])} MB | |")
print(f"| `wfrun serve` after a page's requests (`/`, session, runs, facets, GPUs) | {mb(s['serve_open_kb'])} / {mb(s['serve_open_anon_kb'])} MB | |")
print(f"| `wfrun ui` peak RSS over the whole benchmark | {s['ui_rss_kb']/1024:.0f} MB | |")
print()
