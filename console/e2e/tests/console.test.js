// The console in Chromium, against `tollgate up` on the demo's data: every page, the approval
// flow (the author sees why not; someone else approves, with the keyboard alone), a rejection
// needs a comment, rollback, deep links, and an accessibility scan of each page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { browser, demoDataDir, page, seriousViolations, serve, signIn } from './harness.js';

const AUTHOR = 'maria';
const VERSION_PAGE = '/models/wine-quality/versions/2';
let server;
let chromium;

before(async () => {
  server = await serve(demoDataDir(AUTHOR));
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
    ['/datasets', 'Datasets'],
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
  assert.deepEqual(p.errors, [], 'the browser reported no error');
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
  const trials = p.getByRole('table', { name: 'Trials' });
  assert.equal(await trials.getByRole('row').count(), 13, 'a header and the 12 trials of the demo pipeline');
  await p.getByRole('link', { name: 'best first' }).click();
  await p.waitForURL(/sort=objective/);
  assert.deepEqual(await seriousViolations(p), []);
  await p.goBack();
  await p.waitForURL((u) => !u.search.includes('sort='));
  assert.deepEqual(p.errors, []);
});
