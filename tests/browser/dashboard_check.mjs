// Drives kfreezed's dashboard in headless Chromium (Debian's `chromium`, through puppeteer-core)
// and prints one JSON line of findings per step; tests/e2e/dashboard_e2e.py judges them.
//   node dashboard_check.mjs feed BASE_URL SHOTS_DIR -- FREEZE_COMMAND...
//       opens the feed, waits until it is live, runs FREEZE_COMMAND, and times until the new
//       dump's row shows: {"step": "feed", "row_ms": N, "dump_id": "...", "errors": [...]}
//   node dashboard_check.mjs dump BASE_URL SHOTS_DIR DUMP_ID
//       opens the dump page: what the stall clock, DSQ board, exit and counter chart show
//   node dashboard_check.mjs scroll BASE_URL SHOTS_DIR DUMP_ID MAP
//       opens a dump, selects MAP, measures the page load, a search and scrolling frames
import { spawn } from 'node:child_process';
import puppeteer from 'puppeteer-core';

const [step, base, shots, ...rest] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
await page.setViewport({ width: 1400, height: 1000 });

function runCommand(argv) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

async function feed(command) {
  await page.goto(base + '/', { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => document.getElementById('live').textContent === 'live', { timeout: 20000 });
  await page.waitForFunction(() => document.getElementById('feed') !== null);
  const before = await page.$$eval('#feed tr[data-dump]', (rows) => rows.map((r) => r.dataset.dump));
  const t0 = Date.now();
  const freezing = runCommand(command);
  const handle = await page.waitForFunction((known) => {
    const row = [...document.querySelectorAll('#feed tr[data-dump]')].find((r) => !known.includes(r.dataset.dump));
    return row ? row.dataset.dump : null;
  }, { timeout: 30000, polling: 10 }, before);
  const rowMs = Date.now() - t0;
  const dumpId = await handle.jsonValue();
  const frozen = await freezing;
  await page.screenshot({ path: `${shots}/feed.png` });
  return { step: 'feed', row_ms: rowMs, dump_id: dumpId, freeze_rc: frozen.code, freeze_err: frozen.err.slice(-300) };
}

async function dump(id) {
  await page.goto(`${base}/#/dump/${encodeURIComponent(id)}`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-loaded]', { timeout: 30000 });
  // The kernel-layout text is rendered on demand.
  await page.click('[data-card="kernel\'s scx dump layout"] button');
  await page.waitForFunction(() => {
    const pre = document.querySelector('[data-kernel-style]');
    return pre && pre.textContent && pre.textContent !== 'loading…';
  }, { timeout: 20000 });
  const found = await page.evaluate(() => {
    const q = (s) => document.querySelector(s);
    const text = (s) => (q(s) ? q(s).textContent : null);
    return {
      exit: q('[data-exit]') ? q('[data-exit]').dataset.exit : null,
      exit_text: text('[data-card="exit"]'),
      stall_clock_rows: q('[data-stall-clock]') ? Number(q('[data-stall-clock]').dataset.stallClock) : null,
      stall_clock_first: text('[data-stall-clock] .dsq .name'),
      early_marks: document.querySelectorAll('[data-stall-clock] .mark').length,
      dsqs: [...document.querySelectorAll('[data-dsq]')].map((d) => d.textContent),
      counter_samples: q('[data-counter-chart]') ? Number(q('[data-counter-chart]').dataset.counterChart) : null,
      counter_lines: document.querySelectorAll('[data-counter-chart] polyline').length,
      kernel_style: (text('[data-kernel-style]') || '').slice(0, 400),
    };
  });
  await page.screenshot({ path: `${shots}/dump-${id}.png`, fullPage: true });
  return { step: 'dump', dump_id: id, ...found };
}

async function scroll(id, map) {
  const t0 = Date.now();
  await page.goto(`${base}/#/dump/${encodeURIComponent(id)}`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-loaded]', { timeout: 120000 });
  const loadMs = Date.now() - t0;
  await page.click(`button[data-map="${map}"]`);
  await page.waitForSelector('[data-card^="bpf maps"] .vt[data-rows]');
  const rows = await page.$eval('[data-card^="bpf maps"] .vt', (v) => Number(v.dataset.rows));
  // Frames while scrolling the entries table from top to bottom in 50 steps.
  const frames = await page.evaluate(async () => {
    const vt = document.querySelector('[data-card^="bpf maps"] .vt');
    const times = [];
    for (let i = 1; i <= 50; i++) {
      const t = performance.now();
      vt.scrollTop = (vt.scrollHeight * i) / 50;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { p50: times[25], max: times[times.length - 1] };
  });
  // A search answered on the server: until the table shows the narrowed count.
  const s0 = Date.now();
  await page.type('[data-card^="bpf maps"] input[type=search]', '7777');
  await page.waitForFunction((all) => {
    const vt = document.querySelector('[data-card^="bpf maps"] .vt');
    return vt && Number(vt.dataset.rows) < all;
  }, { timeout: 30000 }, rows);
  const searchMs = Date.now() - s0;
  const matched = await page.$eval('[data-card^="bpf maps"] .vt', (v) => Number(v.dataset.rows));
  await page.screenshot({ path: `${shots}/map-${map}.png` });
  return { step: 'scroll', dump_id: id, load_ms: loadMs, rows, frame_ms: frames, search_ms: searchMs, matched };
}

let result;
try {
  if (step === 'feed') result = await feed(rest.slice(rest.indexOf('--') + 1));
  else if (step === 'dump') result = await dump(rest[0]);
  else if (step === 'scroll') result = await scroll(rest[0], rest[1]);
  else throw new Error(`unknown step ${step}`);
} catch (e) {
  result = { step, failure: String(e) };
  await page.screenshot({ path: `${shots}/${step}-failure.png`, fullPage: true }).catch(() => {});
}
result.errors = errors;
console.log(JSON.stringify(result));
await browser.close();
