// Clarion's live dashboard. Reads one JSON snapshot per second from
// `{base}/stream` (Server-Sent Events), keeps the last two minutes per app
// and draws them with uPlot; the inspector reads one channel's events from
// `{base}/inspect` and publishes test events with `POST {base}/trigger`.
// The operator's token comes from `?token=` and goes with every request.
(() => {
  'use strict';

  const params = new URLSearchParams(location.search);
  const token = params.get('token') || '';
  const base = location.pathname.replace(/\/+$/, '');
  const KEEP = 120;

  const $ = (id) => document.getElementById(id);
  const query = (extra = {}) => {
    const p = new URLSearchParams(extra);
    if (token) p.set('token', token);
    return p.toString();
  };

  /** appId -> arrays of the last KEEP snapshots, in uPlot's column order. */
  const history = new Map();
  let selected = params.get('app');
  let snapshots = 0;

  function columns(id) {
    if (!history.has(id)) {
      history.set(id, {
        t: [], connections: [], channels: [], members: [],
        published: [], delivered: [], p50: [], p99: [],
      });
    }
    return history.get(id);
  }

  function push(list, value) {
    list.push(value);
    if (list.length > KEEP) list.shift();
  }

  // ------------------------------------------------------------- charts

  function chart(el, series, yLabel) {
    const opts = {
      width: Math.max(240, el.clientWidth),
      height: 200,
      scales: { x: { time: true } },
      axes: [{}, { size: 56, label: yLabel, labelSize: 18 }],
      series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: false }))],
      legend: { live: false },
    };
    return new uPlot(opts, [[], ...series.map(() => [])], el);
  }

  const charts = {
    activity: chart($('chart-activity'), [
      ['connections', '#3b5bdb'], ['channels', '#2f9e44'], ['members', '#e8590c'],
    ], ''),
    throughput: chart($('chart-throughput'), [
      ['published/s', '#7048e8'], ['delivered/s', '#1098ad'],
    ], ''),
    latency: chart($('chart-latency'), [
      ['p50', '#2f9e44'], ['p99', '#e03131'],
    ], 'ms'),
  };

  function redraw() {
    const c = selected && history.get(selected);
    if (!c) return;
    charts.activity.setData([c.t, c.connections, c.channels, c.members]);
    charts.throughput.setData([c.t, c.published, c.delivered]);
    charts.latency.setData([c.t, c.p50, c.p99]);
  }

  window.addEventListener('resize', () => {
    for (const [name, u] of Object.entries(charts)) {
      const width = Math.max(240, $(`chart-${name}`).clientWidth);
      u.setSize({ width, height: 200 });
    }
  });

  // ------------------------------------------------------------- snapshots

  const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString() : (Math.round(n * 10) / 10).toString());
  const ms = (v) => (v == null ? '–' : fmt(v));

  function tiles(app) {
    $('tile-connections').textContent = app.connections.toLocaleString();
    $('tile-channels').textContent = app.channels.toLocaleString();
    $('tile-members').textContent = app.members.toLocaleString();
    $('tile-published').textContent = fmt(app.published_per_second);
    $('tile-delivered').textContent = fmt(app.delivered_per_second);
    $('tile-latency').textContent = `${ms(app.latency_p50_ms)} / ${ms(app.latency_p99_ms)}`;
  }

  function appList(apps) {
    const select = $('app');
    const ids = apps.map((a) => a.id);
    if (!selected || !ids.includes(selected)) selected = ids[0] || null;
    if (select.options.length !== ids.length || [...select.options].some((o, i) => o.value !== ids[i])) {
      select.replaceChildren(...ids.map((id) => new Option(id, id)));
    }
    select.value = selected || '';
  }

  $('app').addEventListener('change', (e) => {
    selected = e.target.value;
    const app = latest.get(selected);
    if (app) tiles(app);
    redraw();
  });

  const latest = new Map();

  function ingest(snapshot) {
    const t = snapshot.time / 1000;
    for (const app of snapshot.apps) {
      latest.set(app.id, app);
      const c = columns(app.id);
      push(c.t, t);
      push(c.connections, app.connections);
      push(c.channels, app.channels);
      push(c.members, app.members);
      push(c.published, app.published_per_second);
      push(c.delivered, app.delivered_per_second);
      push(c.p50, app.latency_p50_ms);
      push(c.p99, app.latency_p99_ms);
    }
    appList(snapshot.apps);
    const app = latest.get(selected);
    if (app) tiles(app);
    redraw();
    snapshots += 1;
    document.body.dataset.snapshots = String(snapshots);
    document.body.dataset.ready = 'yes';
    $('updated').textContent = `updated ${new Date(snapshot.time).toLocaleTimeString()}`;
  }

  const status = $('status');
  const stream = new EventSource(`${base}/stream?${query()}`);
  stream.addEventListener('snapshot', (e) => ingest(JSON.parse(e.data)));
  stream.addEventListener('open', () => { status.textContent = 'live'; status.className = 'status live'; });
  stream.addEventListener('error', () => { status.textContent = 'reconnecting…'; status.className = 'status down'; });

  // ------------------------------------------------------------- inspector

  let inspector = null;
  let inspected = 0;
  const log = $('log');

  function note(name, channel, data) {
    const li = document.createElement('li');
    const time = document.createElement('span');
    time.className = 'time';
    time.textContent = new Date().toLocaleTimeString();
    const event = document.createElement('span');
    event.className = 'event';
    event.textContent = channel ? `${name} @ ${channel}` : name;
    const body = document.createElement('span');
    body.className = 'data';
    body.textContent = data;
    li.append(time, event, body);
    log.prepend(li);
    while (log.children.length > 200) log.lastChild.remove();
  }

  function stopWatching(reason) {
    if (inspector) inspector.close();
    inspector = null;
    $('stop').disabled = true;
    $('watching').textContent = reason || 'not watching';
  }

  $('watch').addEventListener('submit', (e) => {
    e.preventDefault();
    const channel = $('channel').value.trim();
    if (!channel || !selected) return;
    stopWatching();
    inspector = new EventSource(`${base}/inspect?${query({ app: selected, channel })}`);
    inspector.addEventListener('open', () => { $('watching').textContent = `watching ${channel} of app ${selected}`; });
    inspector.addEventListener('message', (m) => {
      let name = 'message';
      let data = m.data;
      try {
        const msg = JSON.parse(m.data);
        name = msg.event;
        data = typeof msg.data === 'string' ? msg.data : JSON.stringify(msg.data);
        note(name, msg.channel, data);
      } catch (_) {
        note(name, channel, data);
      }
      inspected += 1;
      document.body.dataset.inspected = String(inspected);
    });
    inspector.addEventListener('clarion:closed', (m) => stopWatching(`stopped: ${m.data}`));
    inspector.addEventListener('error', () => { $('watching').textContent = `reconnecting to ${channel}…`; });
    $('stop').disabled = false;
  });
  $('stop').addEventListener('click', () => stopWatching());

  $('trigger').addEventListener('submit', async (e) => {
    e.preventDefault();
    const channel = $('channel').value.trim();
    const out = $('triggered');
    if (!channel || !selected) { out.textContent = 'name a channel first'; return; }
    const body = { app: selected, channel, event: $('event').value.trim(), data: $('data').value };
    try {
      const res = await fetch(`${base}/trigger`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      const answer = await res.json();
      out.textContent = res.ok ? `sent to ${channel} (${answer.reach})` : `refused: ${answer.error}`;
    } catch (err) {
      out.textContent = `failed: ${err.message}`;
    }
  });

  // For tests and the curious: the charts and what they were drawn from.
  window.clarionDashboard = { charts, history, get selected() { return selected; } };
})();
