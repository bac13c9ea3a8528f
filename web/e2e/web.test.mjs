// Browser tests of the web dApp against a real `modelmart dev` stack (anvil, contracts, indexer,
// coprocessor, demo models), in Debian's chromium driven by playwright-core, with an injected
// test wallet backed by anvil accounts. Run by `make test-web`; prints one JSON line of browser
// timings (BENCHMARKS.md) and writes screenshots of the main pages to e2e/screenshots/.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const bin = (name) => process.env[`MODELMART_${name.toUpperCase().replace('-', '_')}_BIN`] ?? join(root, 'target', 'debug', name);
const fixtures = join(root, 'sdk', 'fhe', 'fixtures');
const shots = join(here, 'screenshots');
const ports = { rpc: 28545, indexer: 28600, coprocessor: 28700, web: 28800 };
const walletScript = readFileSync(join(here, 'wallet.js'), 'utf8').trim().replace(/;$/, '');
const testCsv = readFileSync(join(fixtures, 'data', 'breast_cancer_test.csv'), 'utf8').trim().split('\n');

let dev;
const cspViolations = [];
let stack;
let browser;

/** The clear quantized model's answer for test row `row` in a listing's output mode (`scores`,
 * `rounded` or `label`): what decryption must give. */
function expected(onnx, row, output = 'scores') {
  const out = execFileSync(bin('modelmart-fhe'), ['predict', '--onnx', join(fixtures, 'models', onnx), '--train', join(fixtures, 'data', 'breast_cancer_train.csv'), '--csv', join(fixtures, 'data', 'breast_cancer_test.csv'), '--rows', String(row + 1), '--output', output], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n')[row]);
}

/** A page whose injected wallet is anvil account `account` on chain `chainId`. */
async function walletPage(account, chainId = '0x7a69') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript({ content: `${walletScript}(${JSON.stringify({ rpcUrl: stack.rpc_url, account, chainId })});` });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  // the page runs under its Content-Security-Policy: anything it refuses is a defect here
  page.on('console', (m) => { if (/Content Security Policy|Refused to/.test(m.text())) cspViolations.push(m.text()); });
  return page;
}

async function buy(page, modelId, row) {
  await page.goto(`${stack.web}/#/model/${modelId}`);
  await page.locator('#csv').fill(testCsv[row + 1]);
  await page.locator('#buy').click();
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  dev = spawn(bin('modelmart'), ['--json', 'dev', '--rpc-port', String(ports.rpc), '--indexer-listen', `127.0.0.1:${ports.indexer}`, '--coprocessor-listen', `127.0.0.1:${ports.coprocessor}`, '--web-listen', `127.0.0.1:${ports.web}`, '--web-dir', join(root, 'web', 'dist'), '--dir', join(root, '.modelmart', 'web-e2e')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  stack = await new Promise((resolve, reject) => {
    let buf = '';
    dev.stdout.on('data', (chunk) => {
      buf += chunk;
      for (const line of buf.split('\n')) if (line.includes('"web"')) resolve(JSON.parse(line));
    });
    dev.on('exit', (code) => reject(new Error(`modelmart dev exited with ${code}`)));
  });
  assert.ok(stack.web, 'modelmart dev serves the page (web/dist built)');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

after(async () => {
  assert.deepEqual(cspViolations, [], 'the page did something its Content-Security-Policy refuses');
  await browser?.close();
  dev?.kill('SIGINT');
});

test('the model list shows both demo models with live figures, and search filters it', async () => {
  const page = await walletPage(stack.accounts.buyers[0]);
  const t0 = Date.now();
  const res = await page.goto(stack.web);
  const csp = res.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
  assert.match(csp, new RegExp(`connect-src 'self' ${stack.rpc_url.replace(/\/$/, '')} http://127\\.0\\.0\\.1:${ports.indexer} http://127\\.0\\.0\\.1:${ports.coprocessor}`));
  await page.locator('body[data-ready="true"]').waitFor();
  await page.locator('[data-model="2"]').waitFor();
  const load = Date.now() - t0;
  // names come from the cards, which the indexer fetches and verifies in the background
  for (let i = 0; i < 30 && !((await page.locator('[data-model="1"]').innerText()).includes('logistic') && (await page.locator('[data-model="2"]').innerText()).includes('tree')); i++) {
    await page.waitForTimeout(1000);
    await page.reload();
    await page.locator('[data-model="1"]').waitFor();
  }
  const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
  console.log(JSON.stringify({ bench: 'web_first_load', ms_to_models_listed: load, dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd), load_event_ms: Math.round(nav.loadEventEnd) }));
  assert.match(await page.locator('[data-model="1"]').innerText(), /logistic regression[\s\S]*0\.0012 ETH per row/);
  await page.screenshot({ path: join(shots, 'models.png'), fullPage: true });
  await page.locator('#search').fill('tree');
  await page.locator('[data-model="1"]').waitFor({ state: 'detached' });
  await page.locator('[data-model="2"]').waitFor();
  assert.equal(await page.locator('.tile').count(), 1);
  await page.context().close();
});

test('wrong network: the page says so and switches the wallet', async () => {
  const page = await walletPage(stack.accounts.buyers[1], '0x1');
  await page.goto(stack.web);
  await page.locator('#connect').click();
  await page.locator('#switch-network').waitFor();
  assert.match(await page.locator('#switch-network').innerText(), /Wrong network/);
  await page.locator('#switch-network').click();
  await page.locator('.chain.ok').waitFor();
  await page.context().close();
});

test('a rejected signature is reported in words and nothing is charged', async () => {
  const page = await walletPage(stack.accounts.buyers[1]);
  await page.goto(`${stack.web}/#/model/1`);
  await page.locator('#csv').waitFor();
  await page.evaluate(() => { window.__testWallet.reject = true; });
  await buy(page, 1, 0);
  await page.locator('#status .notice.error').waitFor();
  assert.match(await page.locator('#status').innerText(), /You rejected the request in your wallet/);
  await page.context().close();
});

test('a buyer buys on the linear model (ETH) and on the tree model (mUSD, permit) and decrypts what the clear model says', async () => {
  const page = await walletPage(stack.accounts.buyers[0]);
  // the demo tree is listed label-only: its result is the class, washed
  for (const [modelId, onnx, row, output] of [[1, 'logreg_breast_cancer.onnx', 0, 'scores'], [2, 'tree5_breast_cancer.onnx', 1, 'label']]) {
    await buy(page, modelId, row);
    await page.locator('#result [data-row="0"]').waitFor({ timeout: 240_000 });
    const raw = JSON.parse(await page.locator('#result [data-row="0"]').getAttribute('data-raw'));
    const want = expected(onnx, row, output);
    assert.deepEqual(raw, want.raw, `model ${modelId}: decrypted ${raw}, clear ${want.raw}`);
    assert.equal(await page.locator('#result .label').innerText(), want.label);
    await page.screenshot({ path: join(shots, `buy-model-${modelId}.png`), fullPage: true });
  }
  const timings = await page.evaluate(() => window.__modelmartTimings);
  assert.equal(timings.keygen_ms.length, 1, 'one client key for both purchases');
  assert.equal(timings.key_load_ms, undefined, 'the worker keeps the key between purchases');
  const wasm = execFileSync('find', [join(root, 'web', 'dist', 'assets'), '-name', '*.wasm', '-printf', '%s']).toString();
  console.log(JSON.stringify({ bench: 'web_fhe', wasm_bytes: Number(wasm), ...timings }));
  await page.goto(`${stack.web}/#/jobs`);
  await page.locator('[data-decrypt]').first().click();
  await page.locator('.job-out #result').first().waitFor();
  await page.screenshot({ path: join(shots, 'jobs.png'), fullPage: true });
  await page.context().close();
});

test('an expired job is refunded from the page', async () => {
  const page = await walletPage(stack.accounts.buyers[2]);
  await page.goto(`${stack.web}/#/model/1`);
  await page.locator('#csv').waitFor();
  await page.evaluate(() => { window.__testWallet.jumpAfterPayment = 3600; });
  await buy(page, 1, 2);
  await page.locator('#claim-refund').waitFor({ timeout: 120_000 });
  await page.locator('#claim-refund').click();
  await page.locator('#status .notice.error', { hasText: 'expired; you were refunded' }).waitFor();
  assert.match(await page.locator('#status').innerText(), /refunded 0\.0012 ETH/);
  await page.context().close();
});

test('a seller lists a model from the browser: compiled and sealed here, accepted by the operator', async () => {
  const page = await walletPage(stack.accounts.seller);
  await page.goto(stack.web);
  await page.locator('#connect').click();
  await page.goto(`${stack.web}/#/sell`);
  await page.locator('#list-form').waitFor();
  await page.locator('#list-model').setInputFiles(join(fixtures, 'models', 'logreg_breast_cancer.onnx'));
  await page.locator('#list-train').setInputFiles(join(fixtures, 'data', 'breast_cancer_train.csv'));
  await page.locator('#list-test').setInputFiles(join(fixtures, 'data', 'breast_cancer_test.csv'));
  await page.locator('#list-name').fill('Tumour screening, listed from the browser');
  await page.locator('#list-fhe-rows').fill('2');
  // a unit names a regression model's value: for a classifier it is refused in words
  await page.locator('#list-unit').fill('mm');
  await page.locator('#list-compile').click();
  await page.locator('#list-status .notice.error').waitFor({ timeout: 120_000 });
  assert.match(await page.locator('#list-status').innerText(), /unit is for the value of a regression model/);
  await page.locator('#list-unit').fill('');
  await page.locator('#list-compile').click();
  await page.locator('#list-submit:enabled, #list-status .notice.error').first().waitFor({ timeout: 120_000 });
  assert.equal(await page.locator('#list-status .notice.error').count(), 0, await page.locator('#list-status').innerText());
  assert.match(await page.locator('#list-status').innerText(), /Encrypted = clear\s+100\.0 % of 2 rows/);
  assert.equal(await page.locator('#list-price').inputValue(), '0.001', 'suggested from the active ETH classifier');
  await page.locator('#list-fee').fill('0.0002');
  await page.screenshot({ path: join(shots, 'list.png'), fullPage: true });
  await page.locator('#list-submit').click();
  await page.locator('#listed-model').waitFor({ timeout: 120_000 });
  await page.locator('#listed-model').click();
  await page.locator('#buy').waitFor();
  assert.match(await page.locator('h1').innerText(), /listed from the browser/);
  await page.context().close();
});

test('the seller sees earnings, reprices and withdraws', async () => {
  const page = await walletPage(stack.accounts.seller);
  await page.goto(stack.web);
  await page.locator('#connect').click();
  await page.goto(`${stack.web}/#/sell`);
  const eth = page.locator('[data-token="ETH"]');
  await eth.waitFor();
  assert.doesNotMatch(await eth.locator('.amount').innerText(), /^0 ETH/);
  await page.screenshot({ path: join(shots, 'sell.png'), fullPage: true });
  const row = page.locator('tr[data-model="1"]');
  await row.locator('input').fill('0.002');
  await row.getByRole('button', { name: 'Reprice' }).click();
  await row.locator('.notice.ok').waitFor();
  await page.locator('tr[data-model="1"]', { hasText: '0.002 ETH' }).waitFor({ timeout: 30_000 });
  await page.locator('[data-withdraw="ETH"]').click();
  await page.locator('[data-token="ETH"] .notice.ok').waitFor();
  await page.locator('[data-token="ETH"] .amount', { hasText: /^0 ETH$/ }).waitFor({ timeout: 30_000 });
  await page.context().close();
});
