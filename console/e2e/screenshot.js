// The README's screenshot of the model version page, on a fresh demo data dir:
//   TOLLGATE_BIN=... TOLLGATE_CONSOLE=... node screenshot.js ../../docs/console-model-version.png
import { browser, demoDataDir, page, serve, signIn } from './tests/harness.js';

const out = process.argv[2] ?? 'console-model-version.png';
const server = await serve(demoDataDir('maria'));
const chromium = await browser();
try {
  const p = await page(chromium, server.url);
  await p.setViewportSize({ width: 1200, height: 900 });
  await signIn(p, 'bob');
  await p.goto('/models/wine-quality/versions/2');
  await p.getByRole('table', { name: /against v1 in production/ }).waitFor();
  await p.screenshot({ path: out, fullPage: false });
  console.log(`wrote ${out}`);
} finally {
  await chromium.close();
  await server.stop();
}
