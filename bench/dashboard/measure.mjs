// bench/dashboard's browser half: Debian's Chromium (playwright-core from ui/) against a live
// `wfrun ui`. Prints one JSON object with the timings. Usage:
//   node measure.mjs BASE_URL LOGIN_LINK BIGLOG_RUN LIVE_STATE_DIR WFRUN_BIN
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(join(here, '../../ui/package.json'))('playwright-core');
const [base, link, bigRun, liveWorkflow, state, bin] = process.argv.slice(2);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--enable-precise-memory-info'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
await page.goto(link);
await page.locator('table.runs tbody tr').first().waitFor();

// Until the mark the page sets on the frame after it painted (requestAnimationFrame after the
// render), from the navigation's start: request, HTML, script, session, /api/runs, render.
async function timeTo(url, mark, ready) {
  await page.goto('about:blank');
  await page.goto(url);
  await page.locator(ready).first().waitFor({ timeout: 30000 });
  await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, mark, { timeout: 30000 });
  return page.evaluate((m) => performance.getEntriesByName(m)[0].startTime, mark);
}

const out = {};
const runs = [];
for (let i = 0; i < 7; i++) runs.push(await timeTo(`${base}/`, 'wfrun:runs-painted', 'table.runs tbody tr'));
out.runs_page_ms = { median: median(runs.slice(1)), all: runs };
out.runs_rows = await page.locator('table.runs tbody tr').count();

const tails = [];
for (let i = 0; i < 7; i++) tails.push(await timeTo(`${base}/runs/${bigRun}?job=print`, 'wfrun:log-tail-painted', '.log .ln'));
out.big_log_tail_ms = { median: median(tails.slice(1)), all: tails };
out.big_log_last_line = await page.locator('.log .ln .tx').last().textContent();

// A job printing 10,000 lines a second for 30 s, followed live.
const live = spawn(bin, ['--state-dir', state, 'run', liveWorkflow, '-q'], { stdio: 'ignore' });
let id = 0;
for (let i = 0; i < 100 && !id; i++) {
  const r = await (await page.request.get(`${base}/api/runs?workflow=firehose`)).json();
  if (r.runs.length && r.runs[0].status === 'running') id = r.runs[0].id;
  else await sleep(100);
}
await page.goto(`${base}/runs/${id}?job=fire`);
await page.locator('.log .ln').first().waitFor();
const samples = [];
const t0 = Date.now();
while (live.exitCode === null && Date.now() - t0 < 40000) {
  await sleep(2000);
  samples.push(await page.evaluate(() => {
    const rows = document.querySelectorAll('.log .ln').length;
    const txt = [...document.querySelectorAll('.log .ln .tx')].map((e) => e.textContent);
    const last = txt.length ? Number((txt[txt.length - 1].match(/^line (\d+)/) || [0, 0])[1]) : 0;
    const foot = document.querySelector('.logfoot')?.textContent || '';
    return { rows, last, foot, heap: performance.memory ? performance.memory.usedJSHeapSize : null, at: Date.now() };
  }));
}
await new Promise((r) => (live.exitCode === null ? live.on('exit', r) : r()));
await sleep(1500);
const end = await page.evaluate(() => {
  const txt = [...document.querySelectorAll('.log .ln .tx')].map((e) => e.textContent);
  return { rows: document.querySelectorAll('.log .ln').length, last: txt[txt.length - 1], foot: document.querySelector('.logfoot')?.textContent };
});
out.firehose = { samples, end };
console.log(JSON.stringify(out));
await browser.close();
