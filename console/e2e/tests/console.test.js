// The console in Chromium, against `tollgate up` on the demo's data: every page, the approval
// flow (the author sees why not; someone else approves, with the keyboard alone), a rejection
// needs a comment, rollback, deep links, and an accessibility scan of each page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  browser, consoleWithConfig, copyDataDir, demoDataDir, hostedUi, monitorOnce, page, seriousViolations, serve, signIn, withManyRuns,
} from './harness.js';

const AUTHOR = 'maria';
const VERSION_PAGE = '/models/wine-quality/versions/2';
let server;
let chromium;
let dataDir;

before(async () => {
  dataDir = demoDataDir(AUTHOR);
  monitorOnce(dataDir, 'wine-quality', 'wine-2009-b.csv');
  server = await serve(dataDir);
  chromium = await browser();
});

after(async () => {
  await chromium?.close();
  await server?.stop();
});

test('every page renders its content with no error in the browser and no serious accessibility violation', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'reader', { approver: false });
  const pages = [
    ['/', 'Overview'],
    ['/approvals', 'Approvals'],
    ['/models', 'Models'],
    ['/models/wine-quality', 'Model wine-quality'],
    [VERSION_PAGE, 'wine-quality v2'],
    ['/runs', 'Runs'],
    ['/models/wine-quality/monitoring', 'Monitoring of wine-quality'],
    ['/datasets', 'Datasets'],
    ['/datasets/wine', 'Dataset wine'],
    ['/datasets/wine/uploads', 'Uploads of wine'],
    ['/datasets/wine/versions/3', 'wine v3'],
    ['/audit', 'Audit'],
    ['/sign-in', 'Sign in'],
  ];
  for (const [path, heading] of pages) {
    await p.goto(path);
    await p.getByRole('heading', { level: 1, name: heading }).waitFor();
    await p.waitForFunction(() => !document.querySelector('[role=status].loading'));
    assert.equal(await p.getByRole('alert').count(), 0, `${path} shows no failure`);
    assert.deepEqual(await seriousViolations(p), [], `${path}: accessibility`);
  }
  assert.deepEqual(p.errors, [], 'the browser reported no error (a refused script or style would be one)');
  // The pages ran under the policy the deployed console gets: no inline script or style.
  const policy = (await fetch(`${server.url}/`)).headers.get('content-security-policy');
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval';/);
  assert.match(policy, /style-src 'self';/);
});

test('an unknown page and an unknown model say what is missing, in the page', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'reader', { approver: false });
  await p.goto('/no/such/page');
  await p.getByRole('alert').getByText('There is no page at this address').waitFor();
  await p.goto('/models/no-such-model/versions/1');
  await p.getByRole('alert').getByText('Not found').waitFor();
});

test('signed out, a page says to sign in instead of showing nothing', async () => {
  const p = await page(chromium, server.url);
  await p.goto('/approvals');
  const alert = p.getByRole('alert');
  await alert.getByText('Not signed in').waitFor();
  await alert.getByRole('link', { name: 'Sign in' }).click();
  await p.getByLabel('Name').waitFor();
});

test('the author sees why they cannot approve, instead of a button that fails', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, AUTHOR);
  await p.goto(VERSION_PAGE);
  await p.getByText('You cannot approve this version').waitFor();
  assert.equal(await p.getByRole('button', { name: 'Approve' }).count(), 0);
});

test('a rejection needs a comment, and nothing changes without one', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'bob');
  await p.goto(VERSION_PAGE);
  await p.getByRole('button', { name: 'Reject' }).click();
  await p.getByRole('alert').getByText('a rejection needs a comment').waitFor();
  await p.reload();
  await p.getByRole('heading', { level: 1, name: /wine-quality v2/ }).getByText('staging').waitFor();
});

test('another person approves with the keyboard alone, and the audit shows the decision', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'bob');
  const started = Date.now();
  await p.goto(VERSION_PAGE);
  await p.getByRole('table', { name: /against v1 in production/ }).waitFor();
  console.log(`# the model version page showed its evidence ${Date.now() - started} ms after navigation`);
  // The evidence: every check against production, then the differences only.
  const all = await p.getByRole('table', { name: /against v1 in production/ }).getByRole('row').count();
  await p.getByRole('checkbox', { name: 'Differences only' }).check();
  await p.waitForURL(/diff=1/);
  const differing = await p.getByRole('table', { name: /against v1 in production/ }).getByRole('row').count();
  assert.ok(differing <= all, `${differing} rows of ${all}`);
  await p.goBack();
  await p.waitForURL((u) => !u.search.includes('diff=1'));

  await p.getByLabel('Comment').focus();
  await p.keyboard.type('read the report: better on every check');
  await p.keyboard.press('Tab');
  await p.keyboard.press('Enter');
  await p.getByRole('status').getByText('v2: staging → production').waitFor();

  await p.goto('/audit?subject=model/wine-quality');
  const row = p.getByRole('row').filter({ hasText: 'model.approved' }).filter({ hasText: 'bob' });
  await row.first().waitFor();
  assert.match(await row.first().innerText(), /read the report/);
  assert.deepEqual(p.errors, []);
});

test('a deep link opens the version, and rollback puts the previous one back', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'bob');
  await p.goto('/models/wine-quality');
  await p.getByRole('heading', { name: 'v2 is in production' }).waitFor();
  await p.getByLabel('Comment').fill('v2 misbehaves on the new supplier');
  await p.getByRole('button', { name: 'Roll back' }).click();
  await p.getByRole('status').getByText('Rolled back').waitFor();
  await p.goto('/models/wine-quality/versions/1');
  await p.getByRole('heading', { level: 1, name: /wine-quality v1/ }).getByText('production').waitFor();
});

test('a run shows its budget, its best-so-far curve and its trials, sortable best first', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'reader', { approver: false });
  await p.goto('/runs?pipeline=wine-quality');
  await p.getByRole('table', { name: 'Runs, newest first' }).getByRole('link').first().click();
  await p.getByRole('heading', { level: 1, name: /^Run / }).waitFor();
  await p.getByRole('img', { name: /Best .* so far/ }).waitFor();
  assert.ok(await p.getByRole('img', { name: / against .*the trials table holds the values/ }).count() >= 1,
    'each hyperparameter plotted against the metric');
  const trials = p.getByRole('table', { name: 'Trials' });
  assert.equal(await trials.getByRole('row').count(), 13, 'a header and the 12 trials of the demo pipeline');
  await p.getByRole('link', { name: 'best first' }).click();
  await p.waitForURL(/sort=objective/);
  assert.deepEqual(await seriousViolations(p), []);
  await p.goBack();
  await p.waitForURL((u) => !u.search.includes('sort='));
  assert.deepEqual(p.errors, []);
});

test('a drift alert leads to the version: findings, drift worst first against thresholds, histograms, contract', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'reader', { approver: false });
  await p.goto('/');
  await p.getByRole('region', { name: 'Drift alerts' }).getByRole('link', { name: /^wine v\d+$/ }).click();
  await p.getByRole('heading', { level: 1, name: /^wine v\d+$/ }).waitFor();
  for (const name of ['Validation findings', /^Drift against v\d+$/, 'Column profiles', /^Contract v\d+$/]) {
    await p.getByRole('heading', { level: 2, name }).waitFor();
  }
  const drift = p.getByRole('table', { name: 'Drift per column' });
  const columns = await drift.getByRole('rowheader').allInnerTexts();
  const drifted = columns.map((c) => c.includes('(drifted)'));
  assert.ok(drifted[0], `the most severe column leads: ${columns}`);
  assert.equal(drifted.indexOf(false) === -1 ? drifted.length : drifted.indexOf(false), drifted.lastIndexOf(true) + 1,
    `drifted columns come before the others: ${columns}`);
  assert.ok(await drift.getByRole('img', { name: /against a threshold of/ }).count() > 0, 'thresholds drawn');
  assert.ok(await p.getByRole('img', { name: /^Histogram of / }).count() > 0, 'histograms drawn');
  assert.deepEqual(await seriousViolations(p), []);
  assert.deepEqual(p.errors, []);
});

test('the lineage graph is walked with the keyboard, and Enter opens a node', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'reader', { approver: false });
  await p.goto(VERSION_PAGE);
  const graph = p.getByRole('group', { name: /Lineage graph/ });
  const nodes = graph.getByRole('link');
  await nodes.first().waitFor();
  const count = await nodes.count();
  assert.ok(count >= 4, `${count} nodes`);
  await nodes.first().focus();
  let label = '';
  for (let i = 0; i < count && !label.startsWith('dataset version'); i++) {
    if (i > 0) await p.keyboard.press('Tab');
    label = await p.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
  }
  assert.match(label, /^dataset version/, 'Tab reaches the dataset version');
  await p.keyboard.press('Enter');
  await p.waitForURL(/\/datasets\/wine\/versions\/\d+$/);
  await p.getByRole('heading', { level: 2, name: 'Column profiles' }).waitFor();
  assert.deepEqual(p.errors, []);
});

test('a time typed in says which version was in production then, and the address keeps it', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'reader', { approver: false });
  await p.goto('/models/wine-quality/versions/1');
  const box = p.getByLabel('In production at (UTC)');
  await box.fill('2000-01-01T00:00:00');
  await p.getByText('No version was in production at 2000-01-01 00:00:00 UTC.').waitFor();
  await p.waitForURL(/at=2000-01-01/);
  const soon = new Date(Date.now() + 60_000).toISOString().slice(0, 19);
  await box.fill(soon);
  const answer = await p.locator('output').filter({ hasText: 'was in production at' }).innerText();
  // The history's table says the same: the span that lasts until now.
  const current = p.getByRole('table', { name: 'In production, over time' }).getByRole('row').filter({ hasText: 'now' });
  const now = (await current.getByRole('cell').first().innerText()).replace('v', '');
  assert.match(answer, new RegExp(`^v${now} was in production`), answer);
  await p.goBack();
  await p.getByText('No version was in production at 2000-01-01 00:00:00 UTC.').waitFor();
});

test('monitoring shows each check with every feature against its threshold', async () => {
  const p = await page(chromium, server.url);
  await signIn(p, 'reader', { approver: false });
  await p.goto('/models/wine-quality');
  await p.getByRole('link', { name: /^Monitoring/ }).click();
  await p.getByRole('heading', { level: 1, name: 'Monitoring of wine-quality' }).waitFor();
  assert.equal(await p.getByRole('table', { name: 'Checks, oldest first' }).getByRole('row').count(), 2, 'a header and the one check');
  const features = p.getByRole('table', { name: /Population stability index per feature/ });
  assert.ok(await features.getByRole('img', { name: /against a threshold of/ }).count() >= 5);
  assert.deepEqual(p.errors, []);
});

test('a list of 10,000 runs pages without loading them all', async () => {
  const many = await serve(withManyRuns(dataDir, 10_000));
  try {
    const p = await page(chromium, many.url);
    await signIn(p, 'reader', { approver: false });
    const answered = [];
    p.on('response', async (r) => {
      if (new URL(r.url()).pathname === '/api/v1/runs') answered.push((await r.json()).items.length);
    });
    const started = Date.now();
    await p.goto('/runs');
    const table = p.getByRole('table', { name: 'Runs, newest first' });
    await table.waitFor();
    console.log(`# the first page of 10,000 runs showed ${Date.now() - started} ms after navigation`);
    const first = await table.getByRole('row').nth(1).innerText();
    assert.equal(await table.getByRole('row').count(), 51, 'a header and one page of 50');
    await p.getByRole('link', { name: 'Next page' }).click();
    await p.waitForURL(/cursor=/);
    await p.waitForFunction((text) => {
      const row = document.querySelector('table tbody tr');
      return row && row.innerText !== text;
    }, first);
    assert.equal(await table.getByRole('row').count(), 51);
    assert.ok(answered.length >= 2 && answered.every((n) => n <= 50), `each answer held one page: ${answered}`);
    await p.goBack();
    await p.waitForFunction((text) => document.querySelector('table tbody tr')?.innerText === text, first);
    assert.deepEqual(p.errors, []);
  } finally {
    await many.stop();
  }
});

test('on AWS, sign-in goes through the hosted UI with PKCE, and the API is sent the ID token', async () => {
  const idp = await hostedUi('console-client', {
    email: 'ana@example.com', email_verified: true, 'cognito:groups': ['approvers'],
  });
  const consoleDir = consoleWithConfig({ cognito: { domain: idp.url, client_id: 'console-client' } });
  const aws = await serve(copyDataDir(dataDir), consoleDir);
  try {
    const p = await page(chromium, aws.url);
    const bearers = [];
    p.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/v1/')) bearers.push(r.headers().authorization ?? '');
    });
    await p.goto('/sign-in?next=/models');
    assert.equal(await p.getByLabel('Name').count(), 0, 'no local sign-in on AWS');
    await p.getByRole('button', { name: 'Sign in' }).click();
    // Out to the hosted UI and back with a code, traded for tokens with the verifier.
    await p.waitForURL((u) => u.pathname === '/models');
    assert.deepEqual(idp.exchanges, [true], 'the token endpoint checked the PKCE verifier');
    await p.getByRole('heading', { level: 1, name: 'Models' }).waitFor();
    const sent = bearers.filter((b) => b.startsWith('Bearer '));
    assert.ok(sent.length > 0 && sent.every((b) => b.split('.').length === 3), `the ID token went to the API: ${bearers}`);
    const claims = JSON.parse(Buffer.from(sent[0].split('.')[1], 'base64url').toString());
    assert.equal(claims.email, 'ana@example.com');
    // A code that comes back to another tab, or twice, signs nobody in.
    await p.goto('/signed-in?code=stolen&state=forged');
    await p.getByRole('alert').getByText(/sign-in/).waitFor();
    assert.deepEqual(idp.exchanges, [true], 'a forged state never reaches the token endpoint');
  } finally {
    await aws.stop();
    await idp.stop();
    rmSync(consoleDir, { recursive: true, force: true });
  }
});
