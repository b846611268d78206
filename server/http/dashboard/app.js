// kfreeze dashboard: a live feed of dumps and a page per dump. Plain DOM, no framework and no
// network beyond this daemon's own API. Guest strings are text nodes, never markup.
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

function header(env) {
  const reason = env.degraded ? env.degraded.reason : null;
  const id = encodeURIComponent(env.dump_id);
  return card('dump ' + env.dump_id,
    kv({},
      'target', env.target, 'schema', env.single ? 'single' : env.dual ? 'dual' : 'degraded',
      'trigger', env.trigger || '', 'captured', env.captured_at || '',
      'kernel', env.kernel_release || '', 'freeze window',
      ms((env.timings || []).find((t) => t.phase === 'freeze_window')?.duration_us),
      'window bytes', String(num(env.window_bytes)),
      ...(reason ? ['degraded', el('span', { class: 'bad' }, reason)] : []),
      'download', el('span', {},
        el('a', { href: `/api/v1/dumps/${id}`, download: `${env.dump_id}.json` }, 'proto3 JSON'), ' · ',
        el('a', { href: `/api/v1/dumps/${id}?dialect=ktstr`, download: `${env.dump_id}.ktstr.json` }, 'ktstr JSON'), ' · ',
        el('a', { href: `/api/v1/dumps/${id}?format=text` }, 'text'))));
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
async function mapSource(id, capture, map, q) {
  const block = 200;
  const url = (offset, limit) => `/api/v1/dumps/${encodeURIComponent(id)}/maps/${encodeURIComponent(map)}` +
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
function mapsCard(id, reps) {
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
        const source = await mapSource(id, capture, m.name, search.value);
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
function kernelText(id) {
  const pre = el('pre', { class: 'text', 'data-kernel-style': '' });
  const show = el('button', {}, 'show');
  show.addEventListener('click', () => {
    show.remove();
    pre.textContent = 'loading…';
    fetch(`/api/v1/dumps/${encodeURIComponent(id)}?format=text&style=kernel`).then((r) => r.text())
      .then((t) => { pre.textContent = t; }, (e) => { pre.textContent = String(e); });
  });
  return card("kernel's scx dump layout", el('div', { class: 'tabs' }, show), pre);
}

async function showDump(id) {
  const view = document.getElementById('view');
  view.replaceChildren(el('div', { class: 'dim' }, 'loading ' + id + '…'));
  let env;
  try {
    env = (await api(`/api/v1/dumps/${encodeURIComponent(id)}?view=page`)).envelope;
  } catch (e) {
    view.replaceChildren(card('dump ' + id, el('div', { class: 'bad' }, String(e))));
    return;
  }
  const reps = reportsOf(env);
  const late = reps.length ? reps[reps.length - 1].r : {};
  view.replaceChildren(header(env));
  if (!reps.length) return;
  view.append(exitCard(late), el('div', { class: 'grid' }, stallClock(reps), dsqBoard(reps)),
    counterChart(late), tasksCard(late), cpuCard(late), mapsCard(id, reps), kernelText(id));
  view.setAttribute('data-loaded', env.dump_id);
}

async function showDaemon() {
  try {
    const info = await api('/api/v1/info');
    document.getElementById('daemon').textContent =
      `kfreezed ${info.version} · ${(info.targets || []).length} target(s)`;
  } catch (_) { /* a reader without the read role still sees the page */ }
}

function route() {
  const m = location.hash.match(/^#\/dump\/(.+)$/);
  if (m) showDump(decodeURIComponent(m[1]));
  else showFeed();
}

window.addEventListener('hashchange', route);
showDaemon();
connectEvents();
route();
