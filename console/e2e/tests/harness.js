// What every browser test needs: a demo data dir served by `tollgate up` with the console, and
// Chromium from Debian driven by playwright-core (never a downloaded browser).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through scripts/test.sh`);
  return value;
};

/** The demo's data, as `tollgate demo` leaves it, with `author` as the person who uploads. */
export function demoDataDir(author) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  execFileSync(need('TOLLGATE_BIN'), ['--data-dir', dir, '--as', author, 'demo'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return dir;
}

/** `tollgate up` on `dir` with the console, on a free port of 127.0.0.1: its URL, and stop(). */
export async function serve(dir) {
  const child = spawn(
    need('TOLLGATE_BIN'),
    ['--data-dir', dir, 'up', '--port', '0', '--monitor-every', '0', '--console', need('TOLLGATE_CONSOLE')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`tollgate up did not start: ${seen}`)), 30000);
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const found = seen.match(/Tollgate is up: (http:\/\/127\.0\.0\.1:\d+)/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`tollgate up exited with ${code}: ${seen}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** A new page that records every error the browser reports (console errors and uncaught ones). */
export async function page(b, baseURL) {
  const context = await b.newContext({ baseURL });
  const p = await context.newPage();
  p.errors = [];
  p.on('console', (m) => {
    if (m.type() === 'error') p.errors.push(m.text());
  });
  p.on('pageerror', (e) => p.errors.push(String(e)));
  return p;
}

/** Signs in on the local sign-in form, with the keyboard. */
export async function signIn(p, name, { approver = true } = {}) {
  await p.goto('/sign-in');
  await p.getByLabel('Name').fill(name);
  const box = p.getByRole('checkbox', { name: /approvers/ });
  if ((await box.isChecked()) !== approver) await box.press('Space');
  await p.getByRole('button', { name: 'Sign in' }).press('Enter');
  await p.getByText(`Signed in as ${name}`).waitFor();
}

/** The serious and critical accessibility violations axe-core finds on the page. */
export async function seriousViolations(p) {
  const result = await new AxeBuilder({ page: p }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}
