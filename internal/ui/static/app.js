// Meridian console: reads the node's live stream (Server-Sent Events over
// fetch, so that the API key travels in the Authorization header) and draws
// the map, the flows and the panels. No external requests, no frameworks.
'use strict';

const KEY = 'meridian.apiKey';
const SVGNS = 'http://www.w3.org/2000/svg';
const W = 1000, H = 500;
const $ = (id) => document.getElementById(id);

const ui = {
  key: sessionStorage.getItem(KEY) || '',
  abort: null,
  frame: null,
  regions: new Map(), // region id -> {g, x, y, geo}
  flows: new Map(),   // "src>dst" -> path
  drawnTopology: '',
  retry: 0,
};

function proj(lon, lat) { return [(lon + 180) / 360 * W, (90 - lat) / 180 * H]; }

function el(name, attrs, parent, ns) {
  const e = ns ? document.createElementNS(SVGNS, name) : document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  if (parent) parent.appendChild(e);
  return e;
}
const svg = (name, attrs, parent) => el(name, attrs, parent, true);

function geoClass(geo) { return ['us', 'eu', 'apac'].includes(geo) ? geo : 'other'; }
function fmtRate(r) { return r >= 10 ? r.toFixed(0) : r.toFixed(1); }
function fmtMs(ms) { return ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : Math.round(ms) + ' ms'; }
function fmtNum(n) { return n >= 10000 ? (n / 1000).toFixed(0) + 'k' : String(n); }
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

// ---- authentication -------------------------------------------------------

function showLogin(message) {
  $('app').hidden = true;
  $('signout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('key').focus();
}

function signOut() {
  sessionStorage.removeItem(KEY);
  ui.key = '';
  if (ui.abort) ui.abort.abort();
  setConn('off', 'signed out');
  showLogin('');
}

async function api(path, opts) {
  const o = Object.assign({}, opts || {});
  o.headers = Object.assign({ 'Authorization': 'Bearer ' + ui.key }, o.headers || {});
  const resp = await fetch(path, o);
  if (resp.status === 401) {
    sessionStorage.removeItem(KEY);
    ui.key = '';
    showLogin('That API key was not accepted.');
    throw new Error('unauthorized');
  }
  return resp;
}

// ---- live stream ----------------------------------------------------------

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}

async function stream() {
  if (!ui.key) return;
  if (ui.abort) ui.abort.abort();
  const ctl = new AbortController();
  ui.abort = ctl;
  try {
    const resp = await api('/meridian/v1/live', { signal: ctl.signal, headers: { 'Accept': 'text/event-stream' } });
    if (resp.status === 403) {
      // Not a passing failure: retrying would only ask again.
      sessionStorage.removeItem(KEY);
      ui.key = '';
      showLogin('That key may not see every principal\'s traffic: the console needs a viewer\'s key or one allowed meridian:ViewTraffic.');
      return;
    }
    if (!resp.ok || !resp.body) throw new Error('live stream: HTTP ' + resp.status);
    $('login').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
    setConn('live', 'live');
    ui.retry = 0;
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        if (data) render(JSON.parse(data));
      }
    }
  } catch (err) {
    if (ctl.signal.aborted || err.message === 'unauthorized') return;
  }
  if (ctl.signal.aborted || !ui.key) return;
  setConn('off', 'reconnecting');
  ui.retry = Math.min(ui.retry + 1, 5);
  setTimeout(stream, 500 * ui.retry);
}

// ---- rendering ------------------------------------------------------------

function render(f) {
  ui.frame = f;
  const st = f.state || { regions: [], geographies: {} };
  const topo = st.regions.map((r) => r.id + '@' + r.lon + ',' + r.lat).join(';');
  if (topo !== ui.drawnTopology) {
    drawTopology(st);
    ui.drawnTopology = topo;
  }
  $('node').replaceChildren('Viewing node ', el('b', { text: f.region }), ' (' + (st.geographies[f.geography] || f.geography) + ')');
  $('rate').textContent = fmtRate(f.totals.rate);
  $('total').textContent = String(f.totals.requests);
  const missing = st.regions.map((r) => r.id).filter((id) => !f.reporting.includes(id));
  $('reporting').textContent = `Flows of the requests that entered ${f.reporting.length} of ${st.regions.length} regions: this node's own, plus what its peers publish on the link` +
    (missing.length ? ` (not reporting: ${missing.join(', ')}).` : '.') +
    (st.queues || []).filter((q) => q.depth > 0 || q.standing)
      .map((q) => ` Queue ${q.profile}: ${q.depth} waiting, next ~${Math.round(q.predicted_wait_ns / 1e6)}ms${q.standing ? ' (standing: 429 at once)' : ''}.`).join('');
  renderRegions(f, st);
  renderFlows(f);
  renderResidency(f, st);
  renderDemo(f);
  renderFeed(f);
  renderMix(f, st);
  renderDeployments(st);
}

function drawTopology(st) {
  const grat = $('graticule'); clear(grat);
  for (let lon = -150; lon <= 150; lon += 30) { const [x] = proj(lon, 0); svg('path', { d: `M${x},0V${H}` }, grat); }
  for (let lat = -60; lat <= 60; lat += 30) { const [, y] = proj(0, lat); svg('path', { d: `M0,${y}H${W}` }, grat); }
  const land = $('land');
  if (!land.firstChild) {
    for (const ring of globalThis.MERIDIAN_WORLD || []) {
      svg('path', { d: 'M' + ring.map(([lo, la]) => proj(lo, la).map((v) => v.toFixed(1)).join(',')).join('L') + 'Z' }, land);
    }
  }
  // Geographies: a soft band through their regions, with the name above.
  const geos = $('geos'); clear(geos);
  const byGeo = new Map();
  for (const r of st.regions) {
    const p = proj(r.lon, r.lat);
    if (!byGeo.has(r.geography)) byGeo.set(r.geography, []);
    byGeo.get(r.geography).push(p);
  }
  for (const [geo, pts] of byGeo) {
    pts.sort((a, b) => a[0] - b[0]);
    const cls = 'geo-' + geoClass(geo);
    const g = svg('g', { class: 'geo ' + cls, 'data-geography': geo }, geos);
    if (pts.length > 1) svg('path', { class: 'geo-link', d: 'M' + pts.map((p) => p.join(',')).join('L') }, g);
    for (const [x, y] of pts) svg('circle', { class: 'geo-halo', cx: x, cy: y, r: 24 }, g);
    const top = pts.reduce((a, b) => (b[1] < a[1] ? b : a));
    const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
    svg('text', { x: Math.min(cx, 930), y: top[1] - 32, 'text-anchor': 'middle', class: 'geo-label', text: st.geographies[geo] || geo }, g);
  }
  // Regions.
  const layer = $('regions'); clear(layer); ui.regions.clear();
  const pos = st.regions.map((r) => ({ r, p: proj(r.lon, r.lat) }));
  for (const { r, p } of pos) {
    const [x, y] = p;
    // Labels go on the side away from a close neighbour, and left near the right edge.
    const near = pos.find((o) => o.r.id !== r.id && Math.abs(o.p[0] - x) < 90 && Math.abs(o.p[1] - y) < 40);
    const left = x > 880 || (near && near.p[0] > x);
    const g = svg('g', { class: 'region', 'data-region': r.id, 'data-geography': r.geography, 'data-status': 'ok', tabindex: '0', role: 'img' }, layer);
    svg('title', {}, g);
    svg('circle', { class: 'ring-bg', cx: x, cy: y, r: 11 }, g);
    const ring = svg('circle', { class: 'ring', cx: x, cy: y, r: 11, transform: `rotate(-90 ${x} ${y})`, pathLength: 100, 'stroke-dasharray': '100 100' }, g);
    svg('circle', { class: 'dot', cx: x, cy: y, r: 7 }, g);
    svg('path', { class: 'x', d: `M${x - 3.5},${y - 3.5}l7,7m0,-7l-7,7` }, g);
    const tx = left ? x - 16 : x + 16, anchor = left ? 'end' : 'start';
    svg('text', { x: tx, y: y - 1, 'text-anchor': anchor, class: 'name', text: r.id }, g);
    svg('text', { x: tx, y: y + 12, 'text-anchor': anchor, class: 'meta' }, g);
    svg('text', { x: tx, y: y + 24, 'text-anchor': anchor, class: 'action' }, g);
    ui.regions.set(r.id, { g, ring, x, y, geo: r.geography });
  }
}

function deploymentUnavailable(d) { return d.circuit === 'open' || (d.cooldown_remaining_ms || 0) > 0; }

function regionStatus(r) {
  const deps = r.deployments || [];
  if (!r.healthy) return { status: 'down', why: 'node not answering' };
  if (deps.length && deps.every(deploymentUnavailable)) return { status: 'down', why: 'every deployment cooling down or circuit open' };
  const headroom = deps.length ? Math.min(...deps.map((d) => d.headroom)) : 1;
  if (deps.some(deploymentUnavailable)) return { status: 'degraded', why: 'a deployment is cooling down', headroom };
  if (deps.some((d) => d.circuit === 'half-open')) return { status: 'degraded', why: 'circuit half-open (probing)', headroom };
  if (headroom < 0.2) return { status: 'degraded', why: 'little headroom', headroom };
  return { status: 'ok', why: 'healthy', headroom };
}

function renderRegions(f, st) {
  for (const r of st.regions) {
    const m = ui.regions.get(r.id);
    if (!m) continue;
    const s = regionStatus(r);
    const headroom = s.headroom === undefined ? 0 : s.headroom;
    m.g.dataset.status = s.status;
    m.g.classList.toggle('self', !!r.self);
    m.ring.setAttribute('stroke-dasharray', `${Math.max(0, Math.round(headroom * 100))} 100`);
    const action = f.demo ? f.demo[r.id] || 'normal' : 'normal';
    m.g.dataset.action = action;
    const inflight = (r.deployments || []).reduce((a, d) => a + (d.in_flight || 0), 0);
    m.g.querySelector('text.meta').textContent = s.status === 'down' ? 'down' : `${Math.round(headroom * 100)}% free · ${inflight} in flight`;
    m.g.querySelector('text.action').textContent = action === 'normal' ? '' : 'operator: ' + action;
    const label = `${r.id} (${r.geography}): ${s.status}, ${s.why}; headroom ${Math.round(headroom * 100)}%; ${inflight} in flight` +
      (r.self ? '; this node' : '') + (action !== 'normal' ? '; operator action: ' + action : '');
    m.g.querySelector('title').textContent = label;
    m.g.setAttribute('aria-label', label);
  }
}

// arc is a quadratic curve from (x1,y1) to (x2,y2) bent to its left, so
// that the two directions of a pair stay apart.
function arc(x1, y1, x2, y2) {
  const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
  const bend = Math.min(120, 0.22 * len + 10);
  const cx = (x1 + x2) / 2 + (dy / len) * bend, cy = (y1 + y2) / 2 - (dx / len) * bend;
  return `M${x1.toFixed(1)},${y1.toFixed(1)}Q${cx.toFixed(1)},${cy.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
}

function renderFlows(f) {
  const byPair = new Map();
  const violating = new Set();
  for (const fl of f.flows) {
    if (fl.rate <= 0) continue;
    const k = fl.source + '>' + fl.destination;
    byPair.set(k, (byPair.get(k) || 0) + fl.rate);
    const s = ui.regions.get(fl.source), d = ui.regions.get(fl.destination);
    if (fl.geographic && s && d && s.geo !== d.geo) violating.add(k);
  }
  const layer = $('flows');
  for (const [k, path] of ui.flows) {
    if (!byPair.has(k)) { path.remove(); ui.flows.delete(k); }
  }
  for (const [k, rate] of byPair) {
    const [src, dst] = k.split('>');
    const s = ui.regions.get(src), d = ui.regions.get(dst);
    if (!s || !d) continue;
    let path = ui.flows.get(k);
    if (!path) {
      path = svg('path', { 'data-source': src, 'data-destination': dst }, layer);
      svg('title', {}, path);
      ui.flows.set(k, path);
    }
    let dpath;
    if (src === dst) {
      dpath = `M${s.x - 15},${s.y}a15,15 0 1,0 30,0a15,15 0 1,0 -30,0`;
    } else if (Math.abs(d.x - s.x) > W / 2) {
      // The short way crosses the date line: draw it off one edge of the
      // map and back in from the other.
      const shift = d.x > s.x ? -W : W;
      dpath = arc(s.x, s.y, d.x + shift, d.y) + arc(s.x - shift, s.y, d.x, d.y);
    } else {
      dpath = arc(s.x, s.y, d.x, d.y);
    }
    path.setAttribute('d', dpath);
    path.setAttribute('class', `flow to-${geoClass(d.geo)}` + (src === dst ? ' local' : '') + (violating.has(k) ? ' violation' : ''));
    path.setAttribute('stroke-width', (1.2 + 2.4 * Math.sqrt(rate)).toFixed(2));
    path.dataset.rate = rate.toFixed(2);
    path.firstChild.textContent = `${src} → ${dst}: ${fmtRate(rate)} req/s`;
  }
}

function renderResidency(f, st) {
  const geos = Object.keys(st.geographies).sort();
  const cells = new Map(f.residency.cells.map((c) => [c.source_geography + '>' + c.destination_geography, c]));
  const t = $('residency'); clear(t);
  const head = el('tr', {}, el('thead', {}, t));
  el('th', { scope: 'col', text: 'from \\ to' }, head);
  for (const g of geos) el('th', { scope: 'col', text: g }, head);
  const body = el('tbody', {}, t);
  let violations = f.residency.violations;
  for (const sg of geos) {
    const tr = el('tr', {}, body);
    el('th', { scope: 'row', text: sg }, tr);
    for (const dg of geos) {
      const c = cells.get(sg + '>' + dg) || { geographic: 0, other: 0, violation: false };
      const cls = c.violation ? 'violation' : sg === dg ? 'diag' : 'off';
      const td = el('td', { class: cls, 'data-source-geography': sg, 'data-destination-geography': dg, 'data-violation': String(c.violation) }, tr);
      if (c.violation) violations++;
      el('span', { class: 'g', text: c.geographic ? fmtNum(c.geographic) : (sg === dg ? '0' : '–') }, td);
      if (c.other) el('span', { class: 'o', text: '+' + fmtNum(c.other) + ' global' }, td);
      td.title = `${sg} → ${dg}: ${c.geographic} of geographic profiles, ${c.other} of global profiles` + (c.violation ? ' — RESIDENCY VIOLATION' : '');
    }
  }
  // Two sources, either of which must stay zero: violating cells in the
  // last 5 min of every region's flows, and violating requests this node
  // saw since it started.
  const seen = f.residency.violations, cellCount = violations - seen;
  const b = $('res-badge');
  b.className = 'badge ' + (violations ? 'bad' : 'ok');
  b.textContent = violations ? 'VIOLATION' : 'no violation';
  b.title = violations ? `${cellCount} violating cell(s) in the last 5 min; ${seen} violating request(s) seen by this node since it started` +
    (f.residency.last_violation ? ` (latest: ${f.residency.last_violation})` : '') : 'Every geographic profile stayed in its geography.';
  b.dataset.violations = String(violations);
}

function renderDemo(f) {
  const panel = $('demo-panel');
  panel.hidden = !f.demo;
  if (!f.demo) return;
  const box = $('demo-regions');
  const ids = Object.keys(f.demo).sort();
  if (box.dataset.ids !== ids.join(',')) {
    clear(box);
    for (const id of ids) {
      const card = el('div', { class: 'op', 'data-region': id, role: 'group', 'aria-label': 'Operator actions for ' + id }, box);
      el('span', { class: 'rname', text: id }, card);
      el('span', { class: 'state' }, card);
      const btns = el('span', { class: 'btns' }, card);
      for (const [action, label] of [['down', 'Down'], ['throttle', 'Throttle'], ['restore', 'Restore']]) {
        const b = el('button', { type: 'button', class: action, 'data-action': action, text: label, 'aria-label': `${label} ${id}` }, btns);
        b.addEventListener('click', () => operate(id, action));
      }
    }
    box.dataset.ids = ids.join(',');
  }
  for (const card of box.querySelectorAll('.op')) {
    const a = f.demo[card.dataset.region] || 'normal';
    const st = card.querySelector('.state');
    st.textContent = a; st.dataset.action = a;
    card.querySelector('button.down').setAttribute('aria-pressed', String(a === 'down'));
    card.querySelector('button.throttle').setAttribute('aria-pressed', String(a === 'throttled'));
  }
}

async function operate(region, action) {
  try {
    const resp = await api('/meridian/v1/demo/regions/' + encodeURIComponent(region), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ action }),
    });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({}));
      alertOnce((body.error && body.error.message) || 'action failed: HTTP ' + resp.status);
    }
  } catch (err) { /* signed out, or the node went away: the stream says so */ }
}

function alertOnce(msg) { $('reporting').textContent = msg; }

function routeClass(route) { return 'route' + (route && route.startsWith('failover') ? ' failover' : ''); }

function feedRow(s) {
  const tr = el('tr', { 'data-request-id': s.request_id, tabindex: '0', role: 'button', 'aria-label': `Explain request ${s.request_id}` });
  el('td', { class: 'dim', text: new Date(s.time).toLocaleTimeString([], { hour12: false }) }, tr);
  el('td', { class: 'mono', text: s.request_id.replace(/^req-/, '').slice(0, 10), title: s.request_id }, tr);
  el('td', { text: s.principal || '–' }, tr);
  el('td', { text: s.profile || '–' }, tr);
  el('td', { text: `${s.source} → ${s.destination || 'nowhere'}`, title: s.side === 'destination' ? 'served here for a request that entered ' + s.source : 'entered here' }, tr);
  el('td', { class: routeClass(s.route), text: s.route || (s.error_code || '–'), title: s.route || s.error_code || '' }, tr);
  el('td', { class: s.status >= 400 || s.error_code ? 'st-err' : 'st-ok', text: String(s.status || '–') }, tr);
  el('td', { class: 'num', text: fmtMs(s.latency_ms) }, tr);
  tr.addEventListener('click', () => explain(s.request_id));
  tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); explain(s.request_id); } });
  return tr;
}

// renderFeed keeps the rows of requests already shown (a record never
// changes), so that focus and hover survive each frame.
function renderFeed(f) {
  const body = $('feed').tBodies[0];
  const old = new Map([...body.rows].map((tr) => [tr.dataset.requestId, tr]));
  const first = old.size === 0;
  const rows = f.recent.map((s) => {
    const tr = old.get(s.request_id);
    if (tr) { tr.classList.remove('new'); return tr; }
    const n = feedRow(s);
    if (!first) n.classList.add('new');
    return n;
  });
  rows.forEach((tr, i) => { if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null); });
  while (body.rows.length > rows.length) body.deleteRow(-1);
}

function renderMix(f, st) {
  const geoOf = new Map(st.regions.map((r) => [r.id, r.geography]));
  const box = $('mix');
  const frag = document.createDocumentFragment();
  if (!f.profiles.length) el('p', { class: 'foot', text: 'No requests yet. Run `meridian demo --load`, or send one with the curl command the demo printed.' }, frag);
  for (const p of f.profiles) {
    const row = el('div', { class: 'mixrow', 'data-profile': p.profile }, frag);
    const name = el('div', { class: 'name' }, row);
    el('span', { text: p.profile }, name);
    el('span', { class: 'dim', text: p.total + ' req' }, name);
    const bar = el('div', { class: 'bar', role: 'img' }, row);
    const parts = Object.entries(p.destinations).sort((a, b) => b[1] - a[1]);
    const label = parts.map(([r, n]) => `${r} ${Math.round((100 * n) / p.total)}%`).join(', ');
    bar.setAttribute('aria-label', `${p.profile}: ${label}`);
    for (const [r, n] of parts) {
      const s = el('span', { class: 'r-' + geoClass(geoOf.get(r)), title: `${r}: ${n}` }, bar);
      s.style.width = ((100 * n) / p.total).toFixed(1) + '%';
      s.style.opacity = String(0.55 + 0.45 * (n / parts[0][1]));
    }
    el('div', { class: 'dests', text: label }, row);
  }
  box.replaceChildren(frag);
}

function meter(used, cap) {
  const m = el('span', { class: 'meter' });
  const s = el('span', {}, m);
  const frac = cap > 0 ? Math.min(1, used / cap) : 0;
  s.style.width = (frac * 100).toFixed(0) + '%';
  if (frac >= 0.9) s.className = 'full'; else if (frac >= 0.6) s.className = 'warn';
  return m;
}

function limitText(rem, lim) { return lim ? `${fmtNum(rem)} / ${fmtNum(lim)}` : '∞'; }

function renderDeployments(st) {
  const body = $('deployments').tBodies[0];
  const frag = document.createDocumentFragment();
  for (const r of st.regions) {
    for (const d of r.deployments || []) {
      const tr = el('tr', { 'data-deployment': `${r.id}/${d.model}`, class: d.fresh ? '' : 'dim' }, frag);
      el('td', { text: `${r.id} / ${d.model}` + (d.fresh ? '' : ' (stale)') }, tr);
      const c = el('td', {}, tr);
      c.append(meter(d.in_flight + (d.queue_depth || 0), d.max_concurrency), `${d.in_flight} / ${d.max_concurrency || '∞'}` + (d.queue_depth ? ` +${d.queue_depth} queued` : ''));
      el('td', { class: 'num', text: limitText(d.rpm_remaining, d.rpm_limit) }, tr);
      el('td', { class: 'num', text: limitText(d.tpm_remaining, d.tpm_limit) }, tr);
      el('td', { class: 'num', text: d.ttft_ns ? fmtMs(d.ttft_ns / 1e6) : '–' }, tr);
      el('td', { class: 'num', text: d.error_rate ? (100 * d.error_rate).toFixed(0) + '%' : '0%' }, tr);
      el('td', { class: 'circuit-' + (d.circuit || 'closed'), text: (d.circuit || 'closed') + (d.probe_in_flight ? ' (probing)' : '') }, tr);
      el('td', { class: 'num', text: d.cooldown_remaining_ms ? (d.cooldown_remaining_ms / 1000).toFixed(1) + ' s' : '–' }, tr);
    }
  }
  body.replaceChildren(frag);
}

// ---- one request ------------------------------------------------------------

function explainRoute(s) {
  const where = s.destination ? `ran in ${s.destination}` : 'ran nowhere';
  const reasons = {
    local: 'the source region had headroom, so it stayed local',
    headroom: 'the source region ran short, and this destination scored best on headroom, latency and errors',
    'least-loaded': 'it had the most headroom',
    latency: 'it had the lowest expected time to first token',
    weighted: "it was drawn by the profile's weights",
    probe: 'it was the single probe of a deployment recovering from an open circuit',
    stale: 'no fresher candidate was available',
  };
  let why = reasons[s.route] || '';
  if (s.route && s.route.startsWith('failover')) why = 'an earlier attempt failed before the first byte (' + s.route.slice(9) + '), so the router tried the next candidate';
  return `Entered in ${s.source} with ${s.profile || 'no profile'}, ${where}` + (why ? ` because ${why}` : '') +
    `. Status ${s.status}${s.error_code ? ' (' + s.error_code + ')' : ''}, ${fmtMs(s.latency_ms)}, ${s.attempts} attempt${s.attempts === 1 ? '' : 's'}.`;
}

async function explain(id) {
  const dlg = $('detail');
  $('detail-h').textContent = 'Request ' + id;
  $('detail-why').textContent = 'Loading…';
  clear($('detail-attempts'));
  $('detail-event').textContent = '';
  $('detail-query').textContent = '';
  if (!dlg.open) dlg.showModal();
  let body;
  try {
    const resp = await api('/meridian/v1/requests/' + encodeURIComponent(id));
    body = await resp.json();
    if (!resp.ok) { $('detail-why').textContent = (body.error && body.error.message) || 'HTTP ' + resp.status; return; }
  } catch (err) { return; }
  $('detail-why').textContent = explainRoute(body.summary);
  const t = $('detail-attempts');
  const head = el('tr', {}, el('thead', {}, t));
  for (const h of ['#', 'region', 'outcome', 'status', 'duration']) el('th', { scope: 'col', text: h }, head);
  const tb = el('tbody', {}, t);
  body.attempts.forEach((a, i) => {
    const tr = el('tr', {}, tb);
    el('td', { text: String(i + 1) }, tr);
    el('td', { text: a.region }, tr);
    el('td', { class: a.outcome === 'ok' ? 'st-ok' : 'st-err', text: a.outcome }, tr);
    el('td', { text: a.status ? String(a.status) : '–' }, tr);
    el('td', { text: fmtMs(a.duration_ms) }, tr);
  });
  if (!body.attempts.length) el('td', { colspan: '5', class: 'dim', text: 'No attempt: the request was refused before routing.' }, el('tr', {}, tb));
  $('detail-query').textContent = body.audit_query;
  $('detail-event').textContent = JSON.stringify(body.audit_event, null, 2);
}

// ---- start --------------------------------------------------------------------

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const k = $('key').value.trim();
  if (!k) return;
  ui.key = k;
  sessionStorage.setItem(KEY, k);
  $('key').value = '';
  $('login-error').textContent = '';
  stream();
});
$('signout').addEventListener('click', signOut);
$('detail-close').addEventListener('click', () => $('detail').close());

if (ui.key) stream(); else showLogin('');
