// Shared by the browser tests: Debian's Chromium through playwright-core (pinned by
// ui/package-lock.json), live wfrun processes, and the checks every page gets (no console
// errors, no CSP violations, a screenshot).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.WFRUN_BIN;
export const FIXTURE = process.env.WFRUN_FIXTURE;
export const SRC = process.env.WFRUN_SOURCE_DIR;
export const ARTIFACTS = process.env.WFRUN_ARTIFACTS || join(tmpdir(), 'wfrun-dashboard-screenshots');
const CHROMIUM = '/usr/bin/chromium';

/** Exits 77 (ctest: skipped) without Chromium or playwright-core, or fails when CI needs them. */
export function loadPlaywright() {
  const pw = join(SRC, 'ui/node_modules/playwright-core/package.json');
  const missing = [];
  if (!existsSync(CHROMIUM)) missing.push(`${CHROMIUM} (apt-get install chromium)`);
  if (!existsSync(pw)) missing.push('ui/node_modules/playwright-core (npm ci --prefix ui)');
  if (missing.length) {
    const msg = `browser tests need ${missing.join(' and ')}; scripts/install-deps installs both`;
    if (process.env.WFRUN_REQUIRE_CHROMIUM === '1') {
      console.error(`FAIL: ${msg} (WFRUN_REQUIRE_CHROMIUM=1)`);
      process.exit(1);
    }
    console.error(`SKIP: ${msg}`);
    process.exit(77);
  }
  return createRequire(pw)('playwright-core');
}

export function tempDir(name) {
  return mkdtempSync(join(tmpdir(), `wfrun-${name}-`));
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export async function waitFor(what, fn, timeoutMs = 20000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

/** A child process whose output is kept and whose exit can be awaited. */
export function run(args, { env = {}, cwd } = {}) {
  const p = spawn(BIN, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  p.out = '';
  p.err = '';
  p.stdout.on('data', (d) => { p.out += d; });
  p.stderr.on('data', (d) => { p.err += d; });
  p.exited = new Promise((resolve) => p.on('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))));
  return p;
}

export async function runToEnd(args, opts) {
  const p = run(args, opts);
  const code = await p.exited;
  return { code, out: p.out, err: p.err };
}

/** `wfrun ui` on a free port: {proc, base, link} (link: the one-time sign-in URL). */
export async function startUi(state, env = {}) {
  const proc = run(['--state-dir', state, 'ui', '--listen', '127.0.0.1:0'], { env });
  const link = await waitFor('wfrun ui to print its link', () => {
    const m = proc.out.match(/(http:\/\/127\.0\.0\.1:\d+)\/\?token=([0-9a-f]{64})/);
    return m ? m : null;
  }, 20000);
  return { proc, base: link[1], link: link[0] };
}

export async function stop(proc) {
  if (proc.exitCode !== null) return proc.exitCode;
  proc.kill('SIGTERM');
  return proc.exited;
}

/** A page that records console errors, uncaught errors, CSP violations and dialogs. */
export async function watchedPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.dialogs = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => { page.dialogs.push(d.message()); d.dismiss(); });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

/** The page's CSP violations and console/page errors since the last call (each test asserts
 *  there are none). */
export async function problems(page) {
  const csp = await page.evaluate(() => { const c = window.__csp || []; window.__csp = []; return c; }).catch(() => []);
  const out = [...page.problems, ...csp.map((c) => `CSP: ${c}`)];
  page.problems = [];
  return out;
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

export function writeFiles(dir, files) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}
