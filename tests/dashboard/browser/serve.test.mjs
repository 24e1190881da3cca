// `wfrun serve`'s dashboard in a real browser: a live server with a real repository (a bare git
// repository served as file://, which serve-run clones), runs made through the Workflows page's
// Run button and the manual-trigger API, a run link's read-only page, and the sign-in with an
// API token. Run by ctest (tests/dashboard/CMakeLists.txt).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import {
  cleanup, loadPlaywright, problems, run, shot, stop, tempDir, waitFor, watchedPage, writeFiles,
} from './lib.mjs';

const { chromium } = loadPlaywright();

const TOKEN = 'api-token-for-the-browser-test';
const HOSTILE_BRANCH = '<script>window.__xss=7</script>';
const WORKFLOW = `inputs:
  epochs:
    type: string
    with:
      value: "2"
  note:
    type: string
jobs:
  prepare:
    uses: script@v1
    with:
      script: echo "preparing for \${{ inputs.note }}"
  train:
    uses: script@v1
    needs: [prepare]
    with:
      script: |
        for i in $(seq \${{ inputs.epochs }}); do echo "epoch $i"; sleep 0.01; done
`;

function git(cwd, ...args) {
  return execFileSync('git', args, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } }).toString().trim();
}

describe('wfrun serve', () => {
  let dir, server, base, browser, context, page, bare;

  before(async () => {
    dir = tempDir('dash-serve');
    bare = join(dir, 'ml.git');
    const work = join(dir, 'work');
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    writeFiles(work, { '.wfrun/workflows/train.yaml': WORKFLOW, 'README.md': 'ml\n' });
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'the workflow');
    git(work, 'push', '-q', bare, 'main');
    git(work, 'push', '-q', bare, `main:refs/heads/${HOSTILE_BRANCH}`);
    writeFileSync(join(dir, 'hook'), 'webhook-secret\n');
    writeFileSync(join(dir, 'api'), `${TOKEN}\n`);
    writeFileSync(join(dir, 'server.yaml'), `listen: 127.0.0.1:0
webhook: {secret-file: hook}
api: {tokens-file: api}
state-dir: ${join(dir, 'state')}
threads: 12
repositories:
  - repo: acme/ml
    clone-url: file://${bare}
`);
    server = run(['serve', '--config', join(dir, 'server.yaml')]);
    const port = await waitFor('wfrun serve to listen', () => (server.out.match(/listening on port (\d+)/) || [])[1]);
    base = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await watchedPage(context);
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await stop(server);
    if (dir) cleanup(dir);
  });

  const api = async (path, init = {}) => {
    const res = await fetch(`${base}${path}`, { ...init, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...(init.headers || {}) } });
    return { status: res.status, body: await res.json() };
  };

  test('without a token: nothing but the sign-in page', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Sign in to wfrun' }).waitFor();
    assert.equal((await page.request.get(`${base}/api/runs`)).status(), 401);
    await page.getByLabel('Token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('that token is not valid').waitFor();
    await page.getByLabel('Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    assert.deepEqual((await problems(page)).filter((p) => !p.includes('401')), []);
  });

  test('the Workflows page lists the default branch\'s workflows; Run starts a run that appears in the list', async () => {
    await page.getByRole('link', { name: 'Workflows' }).click();
    const form = page.getByRole('form', { name: /train/ });
    await form.waitFor({ timeout: 30000 });
    assert.equal(await form.getByLabel(/epochs/).inputValue(), '2');
    assert.equal(await form.getByLabel(/Branch or ref/).inputValue(), 'refs/heads/main');
    await shot(page, 'serve-workflows');
    await form.getByLabel(/note/).fill('the browser test');
    await form.getByLabel(/epochs/).fill('3');
    await form.getByRole('button', { name: 'Run' }).click();
    await page.waitForURL(/\/runs\/\d+$/);
    const id = Number(new URL(page.url()).pathname.split('/').pop());
    await page.getByRole('button', { name: /^job train: succeeded/ }).waitFor({ timeout: 60000 });
    await page.getByRole('button', { name: /^job train/ }).click();
    await page.getByRole('log').getByText('epoch 3').waitFor();
    await shot(page, 'serve-run');
    await page.getByRole('link', { name: 'Runs' }).first().click();
    await page.locator(`table.runs a[href="/runs/${id}"]`).waitFor();
    await shot(page, 'serve-runs');
    assert.deepEqual(await problems(page), []);
  });

  test('a run link opens the same page read-only, that run only', async () => {
    const list = await api('/api/runs');
    const run1 = list.body.runs[list.body.runs.length - 1];
    const link = run1.url;
    assert.match(link, /\/runs\/\d+\?key=[0-9a-f]{32}$/);
    const reader = await browser.newContext();
    const p = await watchedPage(reader);
    await p.goto(link.replace(/^https?:\/\/[^/]+/, base));
    await p.getByRole('button', { name: /^job train:/ }).waitFor();
    assert.equal(await p.getByRole('button', { name: 'Cancel' }).count(), 0);
    assert.equal(await p.getByRole('button', { name: 'Re-run' }).count(), 0);
    assert.equal(await p.getByRole('link', { name: 'Workflows' }).count(), 0);
    await shot(p, 'serve-run-link');
    const key = new URL(link).searchParams.get('key');
    assert.equal((await p.request.get(`${base}/api/runs?key=${key}`)).status(), 401);
    assert.equal((await p.request.post(`${base}/api/runs/${run1.id}/rerun?key=${key}`)).status(), 401);
    assert.deepEqual(await problems(p), []);
    await reader.close();
  });

  test('<script> in a branch name stays text; Cancel and Re-run go through the queue', async () => {
    const started = await api('/api/runs', { method: 'POST', body: JSON.stringify({ repo: 'acme/ml', ref: HOSTILE_BRANCH, workflow: '.wfrun/workflows/train.yaml', inputs: { note: '<img src=x onerror=window.__xss=8>', epochs: '1500' } }) });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body.runs[0];
    await page.goto(`${base}/`);
    await page.locator('table.runs').getByText(HOSTILE_BRANCH).first().waitFor();
    await page.goto(`${base}/runs/${id}`);
    await page.getByRole('button', { name: /^job prepare: succeeded/ }).waitFor({ timeout: 60000 });
    await page.getByRole('button', { name: /^job prepare/ }).click();
    await page.getByRole('log').getByText('preparing for <img src=x onerror=window.__xss=8>').waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(page.dialogs, []);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('h1 .status', { hasText: 'cancelled' }).waitFor({ timeout: 30000 });
    await page.getByRole('button', { name: 'Re-run' }).click();
    await page.waitForURL((u) => /\/runs\/\d+$/.test(u.pathname) && u.pathname !== `/runs/${id}`);
    assert.deepEqual(await problems(page), []);
  });
});
