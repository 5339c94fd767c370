// What every browser test needs: a demo data dir served by `tollgate up` with the console, and
// Chromium from Debian driven by playwright-core (never a downloaded browser).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * One check of `model` in production by the monitor, on captured traffic that is one of the
 * demo's own batches (so nothing drifts and no retraining starts): a monitoring report to show.
 */
export function monitorOnce(dir, model, batch) {
  const capture = join(dir, 'buckets', 'tollgate-data', 'capture', model);
  mkdirSync(capture, { recursive: true });
  copyFileSync(join(dir, 'samples', batch), join(capture, 'traffic.csv'));
  execFileSync(need('TOLLGATE_BIN'), ['--data-dir', dir, 'monitor'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** A copy of a data dir, for a second server to change as it likes. */
export function copyDataDir(dir) {
  const copy = mkdtempSync(join(tmpdir(), 'tollgate-e2e-copy-'));
  cpSync(dir, copy, { recursive: true });
  return copy;
}

/**
 * A copy of `dir` whose catalog holds `count` more runs: copies of its newest run, each a
 * second older than the one before, as a team with a long history would have. Written with
 * Python's sqlite3 (Node 20 has none) into the catalog's own table, ids and times rewritten.
 */
export function withManyRuns(dir, count) {
  const copy = copyDataDir(dir);
  const seed = `
import json, sqlite3, sys
from datetime import datetime, timezone
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT pipeline, created_ms, revision, body FROM runs ORDER BY created_ms DESC LIMIT 1").fetchone()
pipeline, newest, revision, body = row
run = json.loads(body)
rows = []
for i in range(int(sys.argv[2])):
    ms = newest - (i + 1) * 1000
    run["id"] = f"seeded-{i:05d}"
    run["created_at"] = datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows.append((run["id"], pipeline, ms, revision, json.dumps(run)))
db.executemany("INSERT INTO runs (id, pipeline, created_ms, revision, body) VALUES (?, ?, ?, ?, ?)", rows)
db.commit()
`;
  execFileSync('python3', ['-c', seed, join(copy, 'catalog.sqlite'), String(count)], { stdio: 'inherit' });
  return copy;
}

/** A copy of the built console with a `config.json`, as the infrastructure deploys it. */
export function consoleWithConfig(config) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-console-'));
  cpSync(need('TOLLGATE_CONSOLE'), dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/**
 * A stand-in for Cognito's hosted UI on 127.0.0.1, for the browser to sign in through: its
 * authorize endpoint sends the browser back with a code at once (the person "signs in" as
 * `claims`), and its token endpoint checks the PKCE verifier against the challenge, the client
 * and the redirect URI as Cognito does, answering `invalid_grant` otherwise.
 */
export async function hostedUi(clientId, claims) {
  const codes = new Map();
  const exchanges = [];
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://idp');
    if (req.method === 'GET' && url.pathname === '/oauth2/authorize') {
      const q = url.searchParams;
      const ok = q.get('response_type') === 'code' && q.get('client_id') === clientId
        && q.get('code_challenge_method') === 'S256' && q.get('code_challenge');
      if (!ok) { res.writeHead(400).end('bad authorize request'); return; }
      const code = randomBytes(12).toString('hex');
      codes.set(code, { challenge: q.get('code_challenge'), redirect: q.get('redirect_uri') });
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state'));
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const issued = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        const challenge = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
        const ok = issued && form.get('grant_type') === 'authorization_code' && form.get('client_id') === clientId
          && form.get('redirect_uri') === issued.redirect && challenge === issued.challenge;
        exchanges.push(Boolean(ok));
        const headers = { 'content-type': 'application/json', 'access-control-allow-origin': '*' };
        if (!ok) { res.writeHead(400, headers).end(JSON.stringify({ error: 'invalid_grant' })); return; }
        const exp = Math.floor(Date.now() / 1000) + 3600;
        const idToken = `${b64({ alg: 'RS256' })}.${b64({ ...claims, exp })}.signature`;
        res.writeHead(200, headers).end(JSON.stringify({ id_token: idToken, access_token: 'a', token_type: 'Bearer', expires_in: 3600 }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    exchanges,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** `tollgate up` on `dir` with the console, on a free port of 127.0.0.1: its URL, and stop(). */
export async function serve(dir, consoleDir = need('TOLLGATE_CONSOLE')) {
  const child = spawn(
    need('TOLLGATE_BIN'),
    ['--data-dir', dir, 'up', '--port', '0', '--monitor-every', '0', '--console', consoleDir],
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
