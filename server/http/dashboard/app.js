// kfreeze dashboard: a live feed of dumps and a page per dump, and with a fleet configured the
// fleet's dump events read from NATS. Plain DOM, no framework; no network beyond this daemon's own
// API and the fleet's NATS websocket listener. Guest strings are text nodes, never markup.
'use strict';

const EXIT_KINDS = { 0: 'NONE', 1: 'DONE', 64: 'UNREG', 65: 'UNREG_BPF', 66: 'UNREG_KERN',
  67: 'SYSRQ', 1024: 'ERROR', 1025: 'ERROR_BPF', 1026: 'ERROR_STALL' };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'style') Object.assign(e.style, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
// A two-column grid of label / value pairs; values may be nodes.
const kv = (attrs, ...pairs) => el('div', Object.assign({ class: 'kv' }, attrs),
  pairs.map((p, i) => (i % 2 === 0 ? el('span', { class: 'dim' }, p) : el('span', {}, p))));
const card = (title, ...body) => el('section', { class: 'card', 'data-card': title },
  el('h2', {}, title), ...body);
const num = (v) => (v === undefined || v === null ? 0 : Number(v));
const ms = (us) => (num(us) / 1000).toFixed(2) + ' ms';
const hex = (v) => '0x' + BigInt(v || 0).toString(16);
const exitName = (k) => (EXIT_KINDS[k] ? 'SCX_EXIT_' + EXIT_KINDS[k] : String(k));

async function api(path) {
  const r = await fetch(path);
  const text = await r.text();
  if (!r.ok) {
    let msg = text;
    try { msg = JSON.parse(text).message; } catch (_) { /* not JSON */ }
    throw new Error(`${r.status}: ${msg}`);
  }
  return JSON.parse(text);
}

// ---------------------------------------------------------------- virtualized table
// Renders only the rows in view: a 100,000-row table costs what 30 rows cost.
// `rows`: an array, or a paged source {length, at(i) (null while loading), subscribe(redraw)}.
function virtualTable(columns, rows, opts = {}) {
  const rowH = 22;
  const at = Array.isArray(rows) ? (i) => rows[i] : (i) => rows.at(i);
  const box = el('div', { class: 'vt', 'data-rows': rows.length });
  const head = el('div', { class: 'row head' },
    columns.map((c) => el('div', { style: { width: c.width + 'px' } }, c.title)));
  const spacer = el('div', { style: { height: (rows.length + 1) * rowH + 'px' } });
  const layer = el('div');
  box.append(head, spacer, layer);
  let drawn = '';
  function draw() {
    const first = Math.max(0, Math.floor(box.scrollTop / rowH) - 5);
    const last = Math.min(rows.length, first + Math.ceil(box.clientHeight / rowH) + 10);
    if (drawn === `${first}:${last}`) return;
    drawn = `${first}:${last}`;
    layer.replaceChildren();
    for (let i = first; i < last; i++) {
      const r = at(i);
      if (!r) {
        layer.append(el('div', { class: 'row dim', style: { top: (i + 1) * rowH + 'px' } }, el('div', {}, '…')));
        continue;
      }
      const row = el('div', { class: 'row' + (opts.rowClass ? ' ' + opts.rowClass(r) : ''),
        style: { top: (i + 1) * rowH + 'px' } },
        columns.map((c) => el('div', { style: { width: c.width + 'px' }, title: String(c.get(r)) }, c.get(r))));
      if (opts.onclick) row.addEventListener('click', () => opts.onclick(r));
      layer.append(row);
    }
  }
  box.addEventListener('scroll', () => requestAnimationFrame(draw));
  if (rows.subscribe) rows.subscribe(() => { drawn = ''; draw(); });
  new ResizeObserver(() => { drawn = ''; draw(); }).observe(box);
  setTimeout(draw, 0);
  return box;
}

// ---------------------------------------------------------------- feed
let feedRows = [];
let source = null;

function feedRow(s, fresh) {
  const exit = s.exit_kind ? (s.exit_kind_name || String(s.exit_kind)) : '';
  return el('tr', { class: fresh ? 'new' : '', 'data-dump': s.dump_id },
    el('td', {}, el('a', { href: '#/dump/' + encodeURIComponent(s.dump_id) }, s.dump_id)),
    el('td', { class: 'dim' }, (s.captured_at || '').replace('T', ' ').replace('Z', '')),
    el('td', {}, s.target), el('td', {}, s.schema),
    el('td', {}, (s.trigger || '').replace('TRIGGER_', '').toLowerCase()),
    el('td', { class: exit.includes('ERROR') ? 'bad' : '' }, exit),
    el('td', {}, s.scheduler || ''),
    el('td', {}, s.live ? 'live' : ms(s.freeze_window_us)),
    el('td', { class: 'dim' }, s.summary || ''));
}

async function showFeed() {
  const tbody = el('tbody', { id: 'feed' });
  const view = document.getElementById('view');
  view.replaceChildren(card('dumps',
    el('table', {}, el('thead', {}, el('tr', {}, ['id', 'captured', 'target', 'schema', 'trigger',
      'exit', 'scheduler', 'window', 'summary'].map((h) => el('th', {}, h)))), tbody)));
  try {
    const list = await api('/api/v1/dumps?page_size=200');
    feedRows = list.dumps || [];
  } catch (e) {
    tbody.append(el('tr', {}, el('td', { class: 'bad', colspan: 9 }, String(e))));
  }
  for (const s of feedRows) tbody.append(feedRow(s, false));
}

function connectEvents() {
  if (source) return;
  source = new EventSource('/api/v1/events?summary_only=true');
  const badge = document.getElementById('live');
  source.addEventListener('open', () => { badge.textContent = 'live'; badge.className = 'badge live'; });
  source.addEventListener('error', () => { badge.textContent = 'reconnecting'; badge.className = 'badge down'; });
  source.addEventListener('dump', (ev) => {
    const s = JSON.parse(ev.data).summary;
    if (!s || feedRows.some((r) => r.dump_id === s.dump_id)) return;
    feedRows.unshift(s);
    const tbody = document.getElementById('feed');
    if (tbody) tbody.prepend(feedRow(s, true));
  });
}

// ---------------------------------------------------------------- dump page
function reportsOf(env) {
  if (env.single) return [{ label: '', r: env.single }];
  if (env.dual) {
    const out = [];
    if (env.dual.early) out.push({ label: 'early', r: env.dual.early });
    out.push({ label: 'late', r: env.dual.late || {} });
    return out;
  }
  if (env.degraded) return [{ label: 'partial', r: env.degraded.partial || {} }];
  return [];
}

// `dumpApi`: the dump's API path, /api/v1/dumps/<id> or /api/v1/fleet/dumps/<host>/<id>.
function header(env, dumpApi) {
  const reason = env.degraded ? env.degraded.reason : null;
  return card('dump ' + env.dump_id,
    kv({},
      'target', env.target, 'schema', env.single ? 'single' : env.dual ? 'dual' : 'degraded',
      'trigger', env.trigger || '', 'captured', env.captured_at || '',
      'kernel', env.kernel_release || '', 'freeze window',
      ms((env.timings || []).find((t) => t.phase === 'freeze_window')?.duration_us),
      'window bytes', String(num(env.window_bytes)),
      ...(reason ? ['degraded', el('span', { class: 'bad' }, reason)] : []),
      'download', el('span', {},
        el('a', { href: dumpApi, download: `${env.dump_id}.json` }, 'proto3 JSON'), ' · ',
        el('a', { href: `${dumpApi}?dialect=ktstr`, download: `${env.dump_id}.ktstr.json` }, 'ktstr JSON'), ' · ',
        el('a', { href: `${dumpApi}?format=text` }, 'text'))));
}

function exitCard(r) {
  const s = r.scx_sched_state || {};
  const x = s.exit_info;
  if (!x) {
    return card('exit', el('div', { class: 'dim', 'data-exit': 'none' },
      s.ops_name ? `${s.ops_name}: no exit (enable state ${s.enable_state || '?'})` :
        (r.scx_walker_unavailable || 'no sched_ext scheduler')));
  }
  return card('exit',
    kv({ 'data-exit': exitName(x.kind) },
      'scheduler', s.ops_name || '', 'kind', el('span', { class: 'bad' }, exitName(x.kind)),
      'code', String(x.exit_code || 0), 'reason', x.reason || '', 'message', x.msg || ''),
    (x.backtrace || []).length ? el('pre', { class: 'stack' }, x.backtrace.join('\n')) : null);
}

// Each runnable task's wait against the watchdog timeout; the first to trip it is marked. For a
// dual report both captures' waits are drawn on the same bar.
function stallClock(reps) {
  const late = reps[reps.length - 1].r;
  const sched = late.scx_sched_state || {};
  const timeout = num(sched.watchdog_timeout);
  const hz = num(sched.hz) || 1000;
  const waits = new Map();
  reps.forEach(({ label, r }) => {
    for (const t of r.task_enrichments || []) {
      if (t.runnable_at_age_jiffies === undefined || !t.is_runnable_in_scx) continue;
      const w = waits.get(t.pid) || { pid: t.pid, comm: t.comm, cpu: t.cpu };
      w[label || 'late'] = num(t.runnable_at_age_jiffies);
      waits.set(t.pid, w);
    }
  });
  const rows = [...waits.values()].sort((a, b) => num(b.late) - num(a.late));
  const scale = Math.max(timeout, ...rows.map((w) => Math.max(num(w.late), num(w.early)))) || 1;
  const jms = (j) => `${Math.round(num(j) * 1000 / hz)} ms`;
  const body = el('div', { 'data-stall-clock': rows.length });
  body.append(el('div', { class: 'dim' }, timeout ?
    `watchdog timeout ${jms(timeout)} (${timeout} jiffies, HZ ${hz})` : 'watchdog timeout unknown'));
  rows.slice(0, 200).forEach((w, i) => {
    const age = num(w.late);
    const frac = age / scale;
    const color = timeout && age >= timeout ? 'var(--bad)' : timeout && age >= timeout / 2 ? 'var(--warn)' : 'var(--ok)';
    const bar = el('div', { class: 'bar' }, el('div', { class: 'fill', style: { width: (frac * 100) + '%', background: color } }));
    if (timeout) bar.append(el('div', { class: 'limit', style: { left: (timeout / scale * 100) + '%' }, title: 'watchdog timeout' }));
    if (w.early !== undefined) bar.append(el('div', { class: 'mark', style: { left: (num(w.early) / scale * 100) + '%' }, title: 'early capture' }));
    body.append(el('div', { class: 'dsq' },
      el('span', { class: 'name' + (i === 0 ? ' bad' : '') }, `${i === 0 ? '▶ ' : ''}${w.comm}[${w.pid}]`),
      el('span', { class: 'depth' }, jms(age) + (w.early !== undefined ? ` (early ${jms(w.early)})` : '')),
      el('div', { style: { flex: '1' } }, bar)));
  });
  if (!rows.length) body.append(el('div', { class: 'dim' }, 'no runnable sched_ext task'));
  return card('stall clock', body);
}

// Every DSQ with its depth and queued tasks, coloured by how long each waited; for a dual report
// whether the queue drained between the captures.
function dsqBoard(reps) {
  const late = reps[reps.length - 1].r;
  const early = reps.length > 1 ? reps[0].r : null;
  const timeout = num((late.scx_sched_state || {}).watchdog_timeout);
  const tasks = new Map((late.task_enrichments || []).map((t) => [String(t.task_kva), t]));
  const before = new Map(((early && early.dsq_states) || []).map((d) => [String(d.id), d]));
  const order = (o) => (o || '').startsWith('local') ? 0 : (o || '').startsWith('bypass') ? 1 : (o || '').startsWith('global') ? 2 : 3;
  const dsqs = [...(late.dsq_states || [])].sort((a, b) => order(a.origin) - order(b.origin));
  const body = el('div', { 'data-dsq-board': dsqs.length });
  for (const d of dsqs) {
    const prev = before.get(String(d.id));
    let trend = null;
    if (prev) {
      const stuck = num(d.nr) > 0 && num(d.nr) >= num(prev.nr) &&
        (d.task_kvas || [])[0] !== undefined && (d.task_kvas || [])[0] === (prev.task_kvas || [])[0];
      trend = el('span', { class: stuck ? 'bad' : num(d.nr) < num(prev.nr) ? 'ok' : 'dim' },
        stuck ? `stuck (${num(prev.nr)}→${num(d.nr)})` : `${num(prev.nr)}→${num(d.nr)}`);
    }
    const chips = (d.task_kvas || []).slice(0, 64).map((kva) => {
      const t = tasks.get(String(kva));
      const age = t ? num(t.runnable_at_age_jiffies) : 0;
      const hot = timeout && age >= timeout ? '#5c2323' : timeout && age >= timeout / 2 ? '#4d3b17' : '#263042';
      return el('span', { class: 'chip', style: { background: hot } }, t ? `${t.comm}[${t.pid}]` : hex(kva));
    });
    body.append(el('div', { class: 'dsq', 'data-dsq': d.origin || '' },
      el('span', { class: 'name' }, d.origin || hex(d.id)),
      el('span', { class: 'depth' }, `depth ${num(d.nr)}`, trend ? ' ' : '', trend),
      el('div', { class: 'chips' }, chips)));
  }
  if (!dsqs.length) body.append(el('div', { class: 'dim' }, late.scx_walker_unavailable || 'no DSQ'));
  return card('dispatch queues', body);
}

// The SCX_EV_* counters over time, one line per counter that moved.
function counterChart(r) {
  const samples = r.event_counter_timeline || [];
  const box = el('div', { 'data-counter-chart': samples.length });
  if (samples.length < 2) {
    box.append(el('div', { class: 'dim' }, r.event_counter_timeline_unavailable || `${samples.length} sample(s)`));
    return card('event counters', box);
  }
  const keys = Object.keys(samples[samples.length - 1]).filter((k) => k !== 'elapsed_ms' &&
    samples.some((s) => num(s[k]) !== num(samples[0][k])));
  const W = 640, H = 180, P = 30;
  const xs = samples.map((s) => num(s.elapsed_ms));
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || 1;
  const ymax = Math.max(1, ...samples.flatMap((s) => keys.map((k) => num(s[k]))));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('width', W);
  const colors = ['#5fb3f9', '#e0a84c', '#e5534b', '#57ab5a', '#b083f0', '#f47067', '#39c5cf'];
  keys.forEach((k, i) => {
    const pts = samples.map((s) => `${P + (num(s.elapsed_ms) - x0) / (x1 - x0 || 1) * (W - 2 * P)},` +
      `${H - P - num(s[k]) / ymax * (H - 2 * P)}`).join(' ');
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts);
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', colors[i % colors.length]);
    svg.append(line);
  });
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', P); label.setAttribute('y', 12);
  label.textContent = `max ${ymax} over ${x1 - x0} ms`;
  svg.append(label);
  box.append(svg, el('div', {}, keys.map((k, i) => el('span', { style: { color: colors[i % colors.length], marginRight: '12px' } }, k))));
  if (!keys.length) box.append(el('div', { class: 'dim' }, 'no counter moved'));
  return card('event counters', box);
}

function tasksCard(r) {
  const tasks = r.task_enrichments || [];
  const detail = el('div');
  const table = virtualTable([
    { title: 'pid', width: 70, get: (t) => t.pid ?? 0 },
    { title: 'comm', width: 150, get: (t) => t.comm },
    { title: 'st', width: 30, get: (t) => t.state_char || '' },
    { title: 'cpu', width: 40, get: (t) => t.cpu ?? '' },
    { title: 'class', width: 70, get: (t) => t.sched_class || '' },
    { title: 'dsq', width: 140, get: (t) => (t.dsq_id !== undefined ? hex(t.dsq_id) : '') },
    { title: 'wait (jiffies)', width: 100, get: (t) => t.runnable_at_age_jiffies ?? '' },
    { title: 'top of stack', width: 360, get: (t) => ((t.kernel_stack || [])[0] || {}).symbol || t.kernel_stack_unavailable || '' },
  ], tasks, { onclick: (t) => detail.replaceChildren(
    el('div', {}, `${t.comm}[${t.pid}] stack:`),
    el('pre', { class: 'stack' }, (t.kernel_stack || []).map((f) => f.symbol).join('\n') || t.kernel_stack_unavailable || 'none')) });
  return card(`tasks (${tasks.length})`, table, detail);
}

function renderValue(v) {
  if (v === undefined || v === null) return '';
  const s = JSON.stringify(v);
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
}

// A map's entries from the server, 200 rows a block, fetched as the table scrolls to them.
async function mapSource(dumpApi, capture, map, q) {
  const block = 200;
  const url = (offset, limit) => `${dumpApi}/maps/${encodeURIComponent(map)}` +
    `/entries?capture=${capture}&offset=${offset}&limit=${limit}&q=${encodeURIComponent(q)}`;
  const first = await api(url(0, block));
  const blocks = new Map([[0, first.rows]]);
  const listeners = [];
  return {
    total: first.total,
    length: first.matched,
    at(i) {
      const b = Math.floor(i / block);
      const rows = blocks.get(b);
      if (rows === undefined) {
        blocks.set(b, null);
        api(url(b * block, block)).then((page) => { blocks.set(b, page.rows); listeners.forEach((f) => f()); },
          () => blocks.delete(b));
        return null;
      }
      return rows ? rows[i % block] : null;
    },
    subscribe(f) { listeners.push(f); },
  };
}

// BPF maps through BTF: pick a map, search its entries (on the server); in a dual report the
// entries whose value changed between the captures are highlighted.
function mapsCard(dumpApi, reps) {
  const late = reps[reps.length - 1].r;
  const capture = reps.length > 1 ? 'late' : '';
  const maps = late.maps || [];
  const tabs = el('div', { class: 'tabs' });
  const body = el('div');
  function show(m, button) {
    [...tabs.children].forEach((b) => b.classList.toggle('on', b === button));
    const search = el('input', { type: 'search', placeholder: 'search keys and values' });
    const count = el('span', { class: 'dim' });
    const holder = el('div');
    let generation = 0;
    const draw = async () => {
      const mine = ++generation;
      try {
        const source = await mapSource(dumpApi, capture, m.name, search.value);
        if (mine !== generation) return;
        count.textContent = ` ${source.length} of ${source.total} entries`;
        holder.replaceChildren(virtualTable([
          { title: 'key', width: 260, get: (e) => e.key },
          { title: 'value', width: 900, get: (e) => e.value },
        ], source, { rowClass: (e) => (e.changed ? 'changed' : '') }));
      } catch (e) {
        holder.replaceChildren(el('div', { class: 'bad' }, String(e)));
      }
    };
    let timer = null;
    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(draw, 150); });
    body.replaceChildren(el('div', { class: 'dim' }, `${m.map_type_name || m.map_type} · max ${m.max_entries}` +
      (m.error ? ` · ${m.error}` : '') + (m.value ? ` · ${renderValue(m.value)}` : '')), search, count, holder);
    draw();
  }
  maps.forEach((m, i) => {
    const b = el('button', { 'data-map': m.name }, m.name);
    b.addEventListener('click', () => show(m, b));
    tabs.append(b);
    if (i === 0) setTimeout(() => show(m, b), 0);
  });
  if (!maps.length) body.append(el('div', { class: 'dim' }, late.maps_unavailable || 'no maps'));
  return card(`bpf maps (${maps.length})`, tabs, body);
}

function cpuCard(r) {
  const rows = (r.per_cpu_time || []).map((c) => el('tr', {},
    [c.cpu, c.cpustat_user_ns, c.cpustat_system_ns, c.cpustat_idle_ns, c.cpustat_softirq_ns, c.cpustat_irq_ns]
      .map((v) => el('td', {}, v === undefined ? '0' : String(v)))));
  const psi = (r.cgroup_psi || []).slice(0, 20).map((p) => el('div', { class: 'dim' }, renderValue(p)));
  return card('per-CPU time and PSI',
    el('table', {}, el('tr', {}, ['cpu', 'user ns', 'system ns', 'idle ns', 'softirq ns', 'irq ns'].map((h) => el('th', {}, h))), rows),
    psi.length ? el('div', {}, psi) : el('div', { class: 'dim' }, r.cgroup_psi_unavailable || 'no PSI'));
}

// The report in the kernel's scx dump layout, rendered by the server when asked for: it costs the
// server another pass over the dump, which the page's first view does not need.
function kernelText(dumpApi) {
  const pre = el('pre', { class: 'text', 'data-kernel-style': '' });
  const show = el('button', {}, 'show');
  show.addEventListener('click', () => {
    show.remove();
    pre.textContent = 'loading…';
    fetch(`${dumpApi}?format=text&style=kernel`).then((r) => r.text())
      .then((t) => { pre.textContent = t; }, (e) => { pre.textContent = String(e); });
  });
  return card("kernel's scx dump layout", el('div', { class: 'tabs' }, show), pre);
}

// A dump's page from `dumpApi` (this daemon's archive by default; a fleet dump's path from the
// fleet view), under an optional `lead` line (e.g. the fleet host it came from).
async function showDump(id, dumpApi = `/api/v1/dumps/${encodeURIComponent(id)}`, lead = null) {
  const view = document.getElementById('view');
  const top = lead ? [lead] : [];
  view.replaceChildren(...top, el('div', { class: 'dim' }, 'loading ' + id + '…'));
  let env;
  try {
    env = (await api(`${dumpApi}?view=page`)).envelope;
  } catch (e) {
    view.replaceChildren(...top, card('dump ' + id, el('div', { class: 'bad', 'data-dump-error': '' }, String(e))));
    return;
  }
  const reps = reportsOf(env);
  const late = reps.length ? reps[reps.length - 1].r : {};
  view.replaceChildren(...top, header(env, dumpApi));
  if (!reps.length) return;
  view.append(exitCard(late), el('div', { class: 'grid' }, stallClock(reps), dsqBoard(reps)),
    counterChart(late), tasksCard(late), cpuCard(late), mapsCard(dumpApi, reps), kernelText(dumpApi));
  view.setAttribute('data-loaded', env.dump_id);
}

// ---------------------------------------------------------------- fleet
// Every kfreezed of the fleet publishes one event per dump to a JetStream stream
// (docs/design/fleet.md). This view reads it from the NATS cluster's websocket listener with
// nats.ws (embedded as /assets/nats.js, loaded only here) through an ordered push consumer: the
// last FLEET_HISTORY events, then live. Only the events' headers are read (no protobuf); they
// come from other hosts, so they are text nodes like guest strings.
const FLEET_HISTORY = 200;
const FLEET_MAX_ROWS = 1000;
const FLEET_SETTINGS = 'kfreeze.fleet';  // sessionStorage: URL, user, password, filters
let fleetInfo = null;  // /api/v1/fleet, when enabled
let fleetSession = null;  // the open connection of the fleet view: {nc, sub, closed, blocked}

// /api/v1/fleet decides whether there is a fleet view: an error (a kfreezed without fleet
// support, a reader without the read role) hides it like enabled=false.
async function loadFleetInfo() {
  try {
    const info = await api('/api/v1/fleet');
    if (info.enabled) fleetInfo = info;
  } catch (_) { /* no fleet view */ }
  document.getElementById('fleet-link').hidden = !fleetInfo;
  return fleetInfo;
}
const fleetReady = loadFleetInfo();

// A host or target name as a subject token, escaped as fleet/subjects.h does: bytes outside
// [A-Za-z0-9_-] become %XX, so a name can never add a token or a wildcard.
function subjectToken(name) {
  return [...new TextEncoder().encode(name)].map((b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9_-]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }).join('');
}

function fleetSubject(s) {
  if (!s.host && !s.target) return 'kfreeze.dumps.>';
  return `kfreeze.dumps.${s.host ? subjectToken(s.host) : '*'}.${s.target ? subjectToken(s.target) : '*'}`;
}

function fleetSettings() {
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(FLEET_SETTINGS) || '{}'); } catch (_) { /* reset */ }
  return { url: saved.url || fleetInfo.websocket_url || '', user: saved.user || '',
    password: saved.password || '', host: saved.host || '', target: saved.target || '' };
}

function fleetStatus(state, reason) {
  const badge = document.getElementById('fleet-status');
  if (!badge) return;
  badge.dataset.state = state;
  badge.textContent = reason ? `${state}: ${reason}` : state;
  badge.className = 'badge ' + ({ live: 'live', error: 'down', reconnecting: 'down',
    'credentials needed': 'warn' }[state] || '');
  const empty = document.querySelector('#fleet-feed [data-empty] td');
  if (empty) {
    empty.textContent = state === 'live' ? 'no dump event yet' :
      state === 'connecting' || state === 'reconnecting' ? '…' : 'not connected';
  }
  if (state === 'credentials needed') document.querySelector('#fleet-form [name=user]')?.focus();
}

// nats.ws passes the server's -ERR text on with its quotes: 'Authorization Violation'.
const errorReason = (e) => ((e && (e.message || e.code || e.name)) || String(e)).replace(/^'(.*)'$/, '$1');
const isAuthError = (e) => e && (e.code === 'AUTHORIZATION_VIOLATION' || /authorization/i.test(e.message || ''));

function fleetEvent(m) {
  const h = (k) => (m.headers && m.headers.get(k)) || '';
  return { seq: m.seq, host: h('Kfreeze-Host'), target: h('Kfreeze-Target'),
    dump_id: h('Kfreeze-Dump-Id'), captured_at: h('Kfreeze-Captured-At'), schema: h('Kfreeze-Schema'),
    trigger: h('Kfreeze-Trigger'), exit_kind: Number(h('Kfreeze-Exit-Kind')) || 0,
    scheduler: h('Kfreeze-Scheduler'), summary: h('Kfreeze-Summary') };
}

function fleetRow(e, fresh) {
  const exit = e.exit_kind ? exitName(e.exit_kind) : '';
  const href = `#/fleet/dump/${encodeURIComponent(e.host)}/${encodeURIComponent(e.dump_id)}`;
  const row = el('tr', { class: 'pick' + (fresh ? ' new' : ''), 'data-host': e.host,
    'data-target': e.target, 'data-dump': e.dump_id, 'data-seq': e.seq },
  el('td', {}, e.host), el('td', {}, e.target), el('td', {}, el('a', { href }, e.dump_id)),
  el('td', { class: 'dim' }, e.captured_at.replace('T', ' ').replace('Z', '')),
  el('td', {}, e.schema), el('td', {}, e.trigger.replace('TRIGGER_', '').toLowerCase()),
  el('td', { class: exit.includes('ERROR') ? 'bad' : '' }, exit),
  el('td', {}, e.scheduler), el('td', { class: 'dim' }, e.summary));
  row.addEventListener('click', (ev) => { if (!ev.target.closest('a')) location.hash = href; });
  return row;
}

function closeFleet() {
  const session = fleetSession;
  fleetSession = null;
  if (!session) return;
  session.closed = true;
  document.removeEventListener('securitypolicyviolation', session.onBlocked);
  if (session.nc) session.nc.close().catch(() => {});
}

async function showFleet() {
  const view = document.getElementById('view');
  view.replaceChildren(el('div', { class: 'dim' }, 'loading…'));
  const info = await fleetReady;
  if (location.hash !== '#/fleet') return;
  if (!info) {
    view.replaceChildren(card('fleet', el('div', { class: 'dim', 'data-fleet-disabled': '' },
      'this kfreezed has no fleet: it runs without NATS, or you may not read it')));
    return;
  }
  const s = fleetSettings();
  const field = (label, name, attrs) => el('label', {}, label + ' ', el('input', { name, ...attrs }));
  const form = el('form', { class: 'fleet-form', id: 'fleet-form' },
    field('websocket', 'url', { value: s.url, size: 26, placeholder: 'ws://host:port' }),
    field('user', 'user', { value: s.user, size: 10, autocomplete: 'username' }),
    field('password', 'password', { value: s.password, size: 12, type: 'password', autocomplete: 'current-password' }),
    field('host', 'host', { value: s.host, size: 12, placeholder: 'any' }),
    field('target', 'target', { value: s.target, size: 12, placeholder: 'any' }),
    el('button', { type: 'submit' }, 'connect'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = Object.fromEntries(['url', 'user', 'password', 'host', 'target']
      .map((k) => [k, form.elements[k].value.trim()]));
    sessionStorage.setItem(FLEET_SETTINGS, JSON.stringify(next));
    connectFleet(next);
  });
  view.replaceChildren(card('fleet',
    el('div', { class: 'fleet-bar' }, el('span', { id: 'fleet-status', class: 'badge' }, 'connecting'),
      el('span', { id: 'fleet-count', class: 'dim' }), form),
    el('table', {}, el('thead', {}, el('tr', {}, ['host', 'target', 'id', 'captured', 'schema', 'trigger',
      'exit', 'scheduler', 'summary'].map((h) => el('th', {}, h)))), el('tbody', { id: 'fleet-feed' }))));
  connectFleet(s);
}

async function connectFleet(s) {
  closeFleet();
  const session = { closed: false, blocked: null };
  // A websocket the page's policy forbids fails like an unreachable one; this event says why.
  session.onBlocked = (ev) => {
    if (session.closed || !/^wss?:/.test(ev.blockedURI)) return;
    session.blocked = `this page's Content-Security-Policy (${ev.effectiveDirective}) does not allow ${ev.blockedURI}`;
    fleetStatus('error', session.blocked);
  };
  document.addEventListener('securitypolicyviolation', session.onBlocked);
  fleetSession = session;
  const tbody = document.getElementById('fleet-feed');
  tbody.replaceChildren(el('tr', { 'data-empty': '' }, el('td', { class: 'dim', colspan: 9 })));
  document.getElementById('fleet-count').textContent = '';
  if (!s.url) {
    fleetStatus('error', 'no websocket URL (kfreezed\'s config has no nats.websocket_url): enter one');
    return;
  }
  fleetStatus('connecting');
  let nats;
  try {
    nats = await import('/assets/nats.js');
  } catch (e) {
    fleetStatus('error', `cannot load the NATS client: ${errorReason(e)}`);
    return;
  }
  try {
    // Only the URL given: the servers a node advertises may be unreachable from the browser.
    const opts = { servers: s.url, name: 'kfreeze dashboard', maxReconnectAttempts: -1,
      reconnectTimeWait: 2000, ignoreClusterUpdates: true };
    if (s.user) Object.assign(opts, { user: s.user, pass: s.password });
    session.nc = await nats.connect(opts);
  } catch (e) {
    if (session.closed) return;
    if (!isAuthError(e)) {
      // The browser does not tell why a websocket failed: refused, unreachable, or not allowed.
      fleetStatus('error', session.blocked || `cannot connect to ${s.url} (${errorReason(e)})`);
    } else {
      fleetStatus(s.user ? 'error' : 'credentials needed', s.user ? errorReason(e) : 'enter a NATS user and password');
    }
    return;
  }
  if (session.closed) { session.nc.close().catch(() => {}); return; }
  watchFleetConnection(session);
  try {
    await readFleetStream(nats, session, s, tbody);
  } catch (e) {
    if (!session.closed) fleetStatus('error', errorReason(e));
  }
}

function watchFleetConnection(session) {
  (async () => {
    for await (const st of session.nc.status()) {
      if (session.closed) return;
      if (st.type === 'disconnect' || st.type === 'reconnecting') fleetStatus('reconnecting');
      else if (st.type === 'reconnect') fleetStatus('live');
      else if (st.type === 'error') {
        const where = st.permissionContext ? ` (${st.permissionContext.operation} ${st.permissionContext.subject})` : '';
        fleetStatus('error', String(st.data) + where);
      }
    }
  })().catch(() => {});
  session.nc.closed().then((err) => {
    if (!session.closed) fleetStatus('error', err ? errorReason(err) : 'connection closed');
  });
}

// The last FLEET_HISTORY events of the stream (fewer with a filter), oldest first, then live:
// each goes on top, so the table is newest first.
async function readFleetStream(nats, session, s, tbody) {
  const jsm = await session.nc.jetstreamManager();
  const state = (await jsm.streams.info(fleetInfo.stream || 'KFREEZE_DUMPS')).state;
  const opts = nats.consumerOpts();
  opts.orderedConsumer();
  opts.startSequence(Math.max(1, state.first_seq, state.last_seq - FLEET_HISTORY + 1));
  session.sub = await session.nc.jetstream().subscribe(fleetSubject(s), opts);
  if (session.closed) return;
  fleetStatus('live');
  let rows = 0;
  let caughtUp = state.last_seq === 0;
  const count = document.getElementById('fleet-count');
  for await (const m of session.sub) {
    if (session.closed) return;
    const e = fleetEvent(m);
    if (!e.host || !e.dump_id) continue;  // not a kfreezed event
    tbody.querySelector('[data-empty]')?.remove();
    tbody.prepend(fleetRow(e, caughtUp));
    if (tbody.children.length > FLEET_MAX_ROWS) tbody.lastChild.remove();
    caughtUp = caughtUp || m.info.pending === 0;
    count.textContent = `${++rows} event(s)`;
  }
  if (!session.closed) fleetStatus('error', 'the stream subscription ended');
}

function showFleetDump(host, id) {
  const lead = el('div', { class: 'crumbs' }, el('a', { href: '#/fleet' }, '← fleet'), ' · host ',
    el('span', { 'data-fleet-host': host }, host));
  showDump(id, `/api/v1/fleet/dumps/${encodeURIComponent(host)}/${encodeURIComponent(id)}`, lead);
}

async function showDaemon() {
  try {
    const info = await api('/api/v1/info');
    document.getElementById('daemon').textContent =
      `kfreezed ${info.version} · ${(info.targets || []).length} target(s)`;
  } catch (_) { /* a reader without the read role still sees the page */ }
}

function route() {
  const hash = location.hash;
  let m;
  if (hash !== '#/fleet') closeFleet();
  if ((m = hash.match(/^#\/dump\/(.+)$/))) showDump(decodeURIComponent(m[1]));
  else if ((m = hash.match(/^#\/fleet\/dump\/([^/]+)\/(.+)$/))) showFleetDump(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  else if (hash === '#/fleet') showFleet();
  else showFeed();
}

window.addEventListener('hashchange', route);
showDaemon();
connectEvents();
route();
