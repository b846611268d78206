// Drives the dashboard's fleet view (#/fleet) in headless Chromium through puppeteer-core and
// prints JSON lines; tests/e2e/dashboard_fleet_e2e.py publishes the stream events and judges.
//   node fleet_check.mjs BASE_URL SHOTS_DIR CONFIG_JSON
// CONFIG_JSON: {"user", "password", "rows" (events in the stream before the page opens),
//               "filter_host", "filter_rows" (events of that host, the live one included),
//               "body_dump" (the id of a dump whose body is in the bucket)}.
// Dialogue on stdin/stdout: it prints {"await": WHAT} and reads the test's one-line answer:
//   live     (the table shows CONFIG.rows rows) the test publishes an event: its dump id
//   outage   the test stops the cluster node of the websocket listener: any line
//   restore  (the view says it lost the connection) the node is back and one more event
//            published: its dump id
// The last line is the findings.
import { createInterface } from 'node:readline';
import puppeteer from 'puppeteer-core';

const [base, shots, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage();
let phase = 'load';
const errors = [];  // [phase, text]: the test decides which phase may log what
page.on('pageerror', (e) => errors.push([phase, String(e)]));
page.on('console', (m) => { if (m.type() === 'error') errors.push([phase, m.text()]); });
await page.setViewport({ width: 1400, height: 900 });

const status = () => page.$eval('#fleet-status', (b) => ({ state: b.dataset.state, text: b.textContent }));
// The fleet view's status once it is none of `passing` (e.g. connecting).
async function settledStatus(passing = ['connecting'], timeout = 20000) {
  await page.waitForFunction((p) => {
    const b = document.getElementById('fleet-status');
    return b && b.dataset.state && !p.includes(b.dataset.state);
  }, { timeout }, passing);
  return status();
}
const rows = () => page.$$eval('#fleet-feed tr[data-dump]', (trs) => trs.map((r) => ({
  host: r.dataset.host, target: r.dataset.target, dump: r.dataset.dump, seq: Number(r.dataset.seq),
  cells: [...r.cells].map((c) => c.textContent) })));
async function waitRows(test, arg, timeout = 20000) {
  await page.waitForFunction(test, { timeout, polling: 20 }, arg);
  return rows();
}
async function ask(what) {
  console.log(JSON.stringify({ await: what }));
  const { value } = await stdinLines.next();
  return (value || '').trim();
}
const topRowIs = (id) => {
  const first = document.querySelector('#fleet-feed tr[data-dump]');
  return first && first.dataset.dump === id;
};
async function submit(fields) {
  for (const [name, value] of Object.entries(fields)) {
    await page.$eval(`#fleet-form [name="${name}"]`, (i, v) => { i.value = v; }, value);
  }
  // Drop the status first: the new connection's status is then the one awaited.
  await page.$eval('#fleet-status', (b) => { b.dataset.state = 'connecting'; });
  await page.click('#fleet-form button[type=submit]');
}

async function run() {
  const found = {};
  await page.goto(base + '/', { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#fleet-link:not([hidden])', { timeout: 10000 });
  found.link = true;

  phase = 'first-open';
  await page.click('#fleet-link');
  found.first = await settledStatus();  // no credentials yet: the cluster wants some

  phase = 'history';
  await submit({ user: config.user, password: config.password });
  found.login = await settledStatus();
  if (found.login.state !== 'live') throw new Error(`with ${config.user}'s credentials the view says ${found.login.text}`);
  found.history = await waitRows((n) => document.querySelectorAll('#fleet-feed tr[data-dump]').length >= n, config.rows);

  phase = 'live';
  const t0 = Date.now();
  found.live_rows = await waitRows(topRowIs, await ask('live'));
  found.live_ms = Date.now() - t0;
  found.live_status = await status();
  await page.screenshot({ path: `${shots}/fleet.png` });

  phase = 'outage';
  await ask('outage');
  found.outage = await settledStatus(['live'], 30000);
  await page.screenshot({ path: `${shots}/fleet-outage.png` });
  phase = 'restore';
  const restored = await ask('restore');
  const t1 = Date.now();
  found.restore_rows = await waitRows(topRowIs, restored, 60000);
  found.restore_ms = Date.now() - t1;
  found.restore_status = await status();

  phase = 'filter';
  await submit({ host: config.filter_host });
  found.filter_status = await settledStatus();
  found.filter_rows = await waitRows((n) => document.querySelectorAll('#fleet-feed tr[data-dump]').length >= n, config.filter_rows);
  await new Promise((r) => setTimeout(r, 500));  // nothing else should arrive
  found.filter_rows = await rows();
  await submit({ host: '' });
  await settledStatus();

  phase = 'reload';
  await page.reload({ waitUntil: 'domcontentloaded' });
  found.reload = await settledStatus();
  found.storage = await page.evaluate(() => ({
    session: sessionStorage.getItem('kfreeze.fleet') !== null,
    local: Object.keys(localStorage).filter((k) => k.includes('fleet')) }));

  phase = 'click';
  const target = (await rows())[0];
  await page.click('#fleet-feed tr[data-dump] td:first-child');
  await page.waitForSelector('[data-loaded], [data-dump-error]', { timeout: 30000 });
  found.click = await page.evaluate(() => ({
    hash: location.hash,
    crumb_host: document.querySelector('[data-fleet-host]')?.textContent ?? null,
    loaded: document.getElementById('view').dataset.loaded ?? null,
    error: document.querySelector('[data-dump-error]')?.textContent ?? null,
    fleet_closed: document.getElementById('fleet-status') === null }));
  found.click.row = target;
  await page.screenshot({ path: `${shots}/fleet-dump-missing.png` });

  phase = 'body';
  await page.goto(`${base}/#/fleet`, { waitUntil: 'domcontentloaded' });
  await settledStatus();
  await page.waitForSelector(`#fleet-feed tr[data-dump="${config.body_dump}"]`, { timeout: 20000 });
  await page.click(`#fleet-feed tr[data-dump="${config.body_dump}"] td:first-child`);
  await page.waitForSelector('[data-loaded], [data-dump-error]', { timeout: 30000 });
  found.body = await page.evaluate(() => ({
    hash: location.hash,
    loaded: document.getElementById('view').dataset.loaded ?? null,
    error: document.querySelector('[data-dump-error]')?.textContent ?? null,
    header: document.querySelector('[data-card^="dump "]')?.textContent ?? '' }));
  await page.screenshot({ path: `${shots}/fleet-dump-body.png`, fullPage: true });

  phase = 'wrong-password';
  await page.goto(`${base}/#/fleet`, { waitUntil: 'domcontentloaded' });
  await settledStatus();
  await submit({ password: `${config.password}-wrong` });
  found.wrong_password = await settledStatus();
  found.wrong_password_rows = (await rows()).length;
  await page.screenshot({ path: `${shots}/fleet-auth-error.png` });
  return found;
}

let result;
try {
  result = { step: 'fleet', ...(await run()) };
} catch (e) {
  result = { step: 'fleet', failure: `${phase}: ${e}` };
  await page.screenshot({ path: `${shots}/fleet-failure.png`, fullPage: true }).catch(() => {});
}
result.errors = errors;
console.log(JSON.stringify(result));
await browser.close();
process.exit(0);
