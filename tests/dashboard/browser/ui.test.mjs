// `wfrun ui` in a real browser: runs made by `wfrun run` in this test, a live `wfrun ui`, and
// Debian's Chromium. Run by ctest (tests/dashboard/CMakeLists.txt); screenshots of each page go
// to $WFRUN_ARTIFACTS (build/dashboard-screenshots).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BIN, FIXTURE, cleanup, loadPlaywright, problems, run, runToEnd, shot, startUi, stop, tempDir,
  waitFor, watchedPage, writeFiles,
} from './lib.mjs';

const { chromium } = loadPlaywright();

const HOSTILE_WF = '<img src=x onerror=window.__xss=9>';
const FILES = {
  'dag.yaml': `jobs:
  prepare:
    uses: script@v1
    with:
      script: |
        echo "preparing data"
        printf '\\033[32mgreen ok\\033[0m and \\033[1;31mbold red\\033[0m\\n'
  lint:
    uses: script@v1
    with:
      script: echo "lint clean"
  train:
    uses: script@v1
    needs: [prepare]
    resources: {gpus: 1}
    with:
      script: |
        echo "training on GPU $CUDA_VISIBLE_DEVICES"
        timeout 1.5 sh -c 'while :; do :; done' || true
        echo "trained"
  report:
    uses: script@v1
    needs: [train, lint]
    outputs:
      notebook: {type: volume}
    with:
      script: |
        cat > /outputs/notebook/executed.ipynb <<'NB'
        {"cells": [{"cell_type": "markdown", "source": "# Executed report"},
                   {"cell_type": "code", "execution_count": 1, "source": "print(6*7)",
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": "42\\n"}]}],
         "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        NB
        echo "report written"
`,
  'ticker.yaml': `jobs:
  tick:
    uses: script@v1
    with:
      script: |
        i=0
        while [ $i -lt 600 ]; do i=$((i+1)); echo "tick $i"; sleep 0.2; done
`,
  [`${HOSTILE_WF}.yaml`]: `jobs:
  shout:
    uses: script@v1
    with:
      script: |
        echo '<script>window.__xss=4</script>'
        printf '\\033[31m<img src=x onerror=window.__xss=5>\\033[0m\\n'
`,
};
const ENV = { WFRUN_FAKE_GPUS: '2xH100' };

describe('wfrun ui', () => {
  let dir, state, ui, browser, context, page, dagRun, hostileRun, ticker;

  before(async () => {
    dir = tempDir('dash-ui');
    state = join(dir, 'state');
    writeFiles(dir, FILES);
    const r = await runToEnd(['--state-dir', state, 'run', join(dir, 'dag.yaml'), '--metrics-interval', '0.2', '-q'], { env: ENV });
    assert.equal(r.code, 0, r.out + r.err);
    const h = await runToEnd(['--state-dir', state, 'run', join(dir, `${HOSTILE_WF}.yaml`), '-q'], { env: ENV });
    assert.equal(h.code, 0, h.out + h.err);
    const { execFileSync } = await import('node:child_process');
    hostileRun = Number(execFileSync(FIXTURE, ['hostile', state]).toString().trim());
    dagRun = 1;
    ui = await startUi(state, ENV);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await watchedPage(context);
  });

  after(async () => {
    if (browser) await browser.close();
    if (ticker) await stop(ticker);  // a failed test leaves it ticking
    if (ui) await stop(ui.proc);
    if (dir) cleanup(dir);
  });

  test('without the token: nothing but the sign-in page', async () => {
    const other = await browser.newContext();
    const p = await watchedPage(other);
    await p.goto(`${ui.base}/runs/${dagRun}`);
    await p.getByRole('heading', { name: 'Sign in to wfrun' }).waitFor();
    assert.equal(await p.locator('table.runs').count(), 0);
    for (const path of ['/api/runs', `/api/runs/${dagRun}`, `/api/runs/${dagRun}/jobs/prepare/log`, '/api/gpus']) {
      const api = await p.request.get(`${ui.base}${path}`);
      assert.equal(api.status(), 401, path);
    }
    await shot(p, 'login');
    assert.deepEqual(await problems(p), []);
    await other.close();
  });

  test('the link signs in once; the run list shows the runs', async () => {
    await page.goto(ui.link);
    assert.equal(page.url(), `${ui.base}/`);
    await page.locator('table.runs tbody tr').first().waitFor();
    const names = await page.locator('table.runs td.name a').allTextContents();
    assert.ok(names.includes('dag'), names.join(','));
    assert.ok(names.includes(HOSTILE_WF), names.join(','));
    assert.ok(await page.getByRole('link', { name: 'dag' }).isVisible());
    await shot(page, 'runs');
    // The same link in another browser: used up.
    const other = await browser.newContext();
    const p = await other.newPage();
    await p.goto(ui.link);
    await p.getByRole('heading', { name: 'Sign in to wfrun' }).waitFor();
    await other.close();
    // wfrun ui printed a fresh link for the next browser.
    await waitFor('a fresh link', () => /for another browser, open http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(ui.proc.err));
    assert.deepEqual(await problems(page), []);
  });

  test('opening a run shows the DAG and the log, with ANSI colours', async () => {
    await page.getByRole('link', { name: 'dag' }).click();
    await page.waitForURL(`${ui.base}/runs/${dagRun}`);
    const nodes = page.locator('svg.dag g.node');
    await waitFor('4 jobs in the DAG', async () => (await nodes.count()) === 4);
    assert.equal(await page.locator('svg.dag path.edge').count(), 3);
    const train = page.getByRole('button', { name: /^job train: succeeded/ });
    assert.ok(await train.isVisible());
    // Keyboard: focus the node and press Enter.
    await page.getByRole('button', { name: /^job prepare: succeeded/ }).focus();
    await page.keyboard.press('Enter');
    const log = page.getByRole('log');
    await log.getByText('preparing data').waitFor();
    assert.equal(await log.locator('.ansi-green', { hasText: 'green ok' }).count(), 1);
    assert.equal(await log.locator('.ansi-red.ansi-bold', { hasText: 'bold red' }).count(), 1);
    await shot(page, 'run');
    assert.deepEqual(await problems(page), []);
  });

  test('log search finds the line on the server', async () => {
    await page.getByRole('button', { name: /^job train: succeeded/ }).click();
    await page.getByRole('log').getByText('trained').waitFor();
    await page.getByLabel('Search the log').fill('TRAINING ON');
    await page.getByRole('button', { name: 'Search' }).click();
    const hit = page.getByRole('region', { name: 'Search results' }).getByRole('button', { name: /training on GPU/ });
    await hit.waitFor();
    await hit.click();
    await page.locator('.log .ln.hit').waitFor();
    assert.deepEqual(await problems(page), []);
  });

  test('a chart draws from the recorded metrics', async () => {
    await page.getByRole('tab', { name: 'Metrics' }).click();
    await page.locator('figure.chart canvas').first().waitFor();
    const titles = await page.locator('figure.chart figcaption').allTextContents();
    assert.deepEqual(titles, ['GPU utilisation', 'GPU memory', 'GPU power', 'CPU', 'Resident memory']);
    // The CPU and GPU memory charts drew their lines (the first series' colour, #1f6feb), not
    // just axes.
    for (const n of [1, 3]) {
      const inked = await page.locator('figure.chart').nth(n).locator('canvas').evaluate((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let hits = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (Math.abs(d[i] - 31) < 40 && Math.abs(d[i + 1] - 111) < 40 && Math.abs(d[i + 2] - 235) < 40 && d[i + 3] > 100) hits++;
        }
        return hits;
      });
      assert.ok(inked > 30, `chart ${n}: only ${inked} pixels of its line`);
    }
    await shot(page, 'run-metrics');
    assert.deepEqual(await problems(page), []);
  });

  test('outputs: files to download and the executed notebook, sandboxed', async () => {
    await page.getByRole('button', { name: /^job report: succeeded/ }).click();
    await page.getByRole('tab', { name: 'Outputs' }).click();
    await page.getByRole('button', { name: 'Show files' }).click();
    const file = page.getByRole('link', { name: 'executed.ipynb' });
    await file.waitFor();
    const dl = await page.request.get(new URL(await file.getAttribute('href'), ui.base).href);
    assert.equal(dl.status(), 200);
    assert.match(dl.headers()['content-disposition'], /attachment; filename="executed.ipynb"/);
    await page.getByRole('button', { name: 'View notebook' }).click();
    const frame = page.frameLocator('iframe.notebook');
    await frame.getByRole('heading', { name: 'Executed report' }).waitFor();
    assert.equal(await page.locator('iframe.notebook').getAttribute('sandbox'), '');
    await shot(page, 'run-outputs');
    assert.deepEqual(await problems(page), []);
  });

  test('the run list shows a new run by itself; a running job\'s log grows on screen; Cancel stops it', async () => {
    await page.goto(`${ui.base}/`);
    await page.locator('table.runs tbody tr').first().waitFor();
    ticker = run(['--state-dir', state, 'run', join(dir, 'ticker.yaml'), '-q'], { env: ENV });
    // No reload: the list's event stream brings the new run, running.
    const row = page.locator('table.runs tbody tr', { has: page.getByRole('link', { name: 'ticker', exact: true }) });
    await row.locator('.status', { hasText: 'running' }).waitFor({ timeout: 15000 });
    const id = Number((await row.getByRole('link', { name: 'ticker', exact: true }).getAttribute('href')).split('/').pop());
    await shot(page, 'runs-live');
    await row.getByRole('link', { name: 'ticker', exact: true }).click();
    await page.waitForURL(`${ui.base}/runs/${id}`);
    const log = page.getByRole('log');
    await log.getByText('tick 3', { exact: true }).waitFor();
    const seen = async () => {
      const lines = await log.locator('.ln .tx').allTextContents();
      return Math.max(0, ...lines.map((l) => Number((l.match(/^tick (\d+)$/) || [0, 0])[1])));
    };
    const first = await seen();
    // New lines arrive through the page's event stream while the job runs.
    await waitFor('more ticks on screen', async () => (await seen()) >= first + 5, 15000);
    assert.ok(await page.getByRole('button', { name: 'Following' }).isVisible());
    await shot(page, 'run-live');

    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: /^job tick: cancelled/ }).waitFor({ timeout: 15000 });
    const code = await ticker.exited;
    assert.equal(code, 130, ticker.out + ticker.err);
    await page.locator('h1 .status', { hasText: 'cancelled' }).waitFor();
    assert.deepEqual(await problems(page), []);
  });

  test('Re-run starts a run that then appears in the list', async () => {
    await page.goto(`${ui.base}/runs/${dagRun}`);
    await page.getByRole('button', { name: 'Re-run' }).click();
    await page.waitForURL((u) => /\/runs\/\d+$/.test(u.pathname) && u.pathname !== `/runs/${dagRun}`, { timeout: 15000 });
    const newId = Number(new URL(page.url()).pathname.split('/').pop());
    assert.ok(newId > dagRun);
    await page.getByRole('link', { name: 'Runs' }).first().click();
    await page.locator(`table.runs a[href="/runs/${newId}"]`).waitFor();
    await waitFor('the re-run to end', async () => {
      const r = await (await page.request.get(`${ui.base}/api/runs/${newId}`)).json();
      return r.status === 'succeeded';
    }, 30000);
    assert.deepEqual(await problems(page), []);
  });

  test('filters stay in the address: a reload or a shared link shows the same runs', async () => {
    await page.goto(`${ui.base}/`);
    await page.locator('table.runs tbody tr').first().waitFor();
    const workflow = page.getByLabel('Workflow');
    await workflow.locator('option', { hasText: 'dag' }).waitFor({ state: 'attached' });
    await workflow.selectOption('dag');
    await page.waitForURL(`${ui.base}/?workflow=dag`);
    const names = async () => page.locator('table.runs td.name a').allTextContents();
    await waitFor('only dag runs', async () => { const n = await names(); return n.length >= 2 && n.every((x) => x === 'dag'); });
    await page.reload();
    await page.locator('table.runs tbody tr').first().waitFor();
    assert.ok((await names()).every((x) => x === 'dag'));
    assert.equal(await page.getByLabel('Workflow').inputValue(), 'dag');
    await page.getByLabel('Status').selectOption('cancelled');
    await page.waitForURL(`${ui.base}/?workflow=dag&status=cancelled`);
    await page.getByText('No runs match these filters.').waitFor();
    await page.getByRole('link', { name: 'Clear them' }).click();
    await page.waitForURL(`${ui.base}/`);
    await page.locator('table.runs td.name a', { hasText: 'ticker' }).first().waitFor();
    assert.deepEqual(await problems(page), []);
  });

  test('<script> in workflow, job and branch names and in log lines stays text', async () => {
    await page.goto(`${ui.base}/`);
    await page.locator('table.runs tbody tr').first().waitFor();
    const table = page.locator('table.runs');
    await table.getByText('<script>window.__xss=1</script>', { exact: false }).first().waitFor();
    await table.getByText(`${HOSTILE_WF}`, { exact: true }).first().waitFor();
    await table.getByText('evil/"><img src=x onerror="window.__xss=2">').waitFor();
    await page.goto(`${ui.base}/runs/${hostileRun}`);
    await page.getByRole('log').getByText('line <script>window.__xss=1</script>').waitFor();
    await page.getByRole('log').getByText('line <script>window.__xss=3</script>').waitFor();
    // The branch (refs/heads/<script>...) as the run page shows it.
    await page.locator('dl.meta .branch', { hasText: '<script>window.__xss=1</script>' }).waitFor();
    assert.ok(await page.getByRole('button', { name: /^job "><img src=x onerror="window.__xss=2">: succeeded/ }).isVisible());
    await page.getByRole('button', { name: /^job "><img/ }).click();
    await page.getByRole('tab', { name: 'Outputs' }).click();
    await page.getByText('"><img src=x onerror="window.__xss=2">').first().waitFor();
    await shot(page, 'run-hostile');
    const real = await (await page.request.get(`${ui.base}/api/runs?workflow=${encodeURIComponent(HOSTILE_WF)}`)).json();
    await page.goto(`${ui.base}/runs/${real.runs[0].id}`);
    await page.getByRole('log').getByText('<script>window.__xss=4</script>').waitFor();
    await page.getByRole('log').locator('.ansi-red', { hasText: '<img src=x onerror=window.__xss=5>' }).waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(page.dialogs, []);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.deepEqual(await problems(page), []);
  });

  test('GPUs page: each GPU and what holds it', async () => {
    await page.goto(`${ui.base}/gpus`);
    await page.getByRole('heading', { name: /GPU 0/ }).waitFor();
    assert.equal(await page.locator('li.gpu').count(), 2);
    assert.ok(await page.getByText('found by simulated').isVisible());
    await shot(page, 'gpus');
    assert.deepEqual(await problems(page), []);
  });

  test('phone width and the dark preference', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true });
    const p = await watchedPage(phone);
    // Sign in with a fresh token: wfrun ui printed one after the first browser signed in.
    const links = [...ui.proc.err.matchAll(/open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})/g)];
    await p.goto(links[links.length - 1][1]);
    await p.locator('table.runs tbody tr').first().waitFor();
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 390, `the runs page is ${wide}px wide on a 390px screen`);
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(13, 17, 23)');
    await shot(p, 'runs-phone-dark');
    await p.goto(`${ui.base}/runs/${dagRun}`);
    await p.locator('svg.dag g.node').first().waitFor();
    await shot(p, 'run-phone-dark');
    assert.deepEqual(await problems(p), []);
    await phone.close();
  });
});
