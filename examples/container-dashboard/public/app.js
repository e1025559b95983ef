// The dashboard of seeds 001/004. Transport `sse` (default) is the seed's
// own EventSource, now on Clarion: GET /app/{key}/events with the user's
// JWT in ?token= (EventSource cannot send headers). Transport `echo` is
// Laravel Echo on a WebSocket, authorised by Clarion's built-in endpoint
// with the same JWT as a bearer token. Both feed the same handlers.
(async function () {
  const $ = (id) => document.getElementById(id);
  const session = await (await fetch('/api/session')).json();
  const { clarion, token, user } = session;
  const transport = new URLSearchParams(location.search).get('transport') || 'sse';
  const channel = `private-user.${user.id}`;
  const points = [];

  function connection(state) {
    const labels = { connecting: '● Connecting…', connected: '● Connected (live updates)', disconnected: '● Disconnected' };
    $('connection').className = `conn ${state}`;
    $('connection').textContent = labels[state];
  }

  function log(message, level) {
    const li = document.createElement('li');
    li.className = level;
    li.textContent = `${new Date().toLocaleTimeString()}  ${message}`;
    $('logs').append(li);
    $('logs').scrollTop = $('logs').scrollHeight;
    $('streaming').classList.remove('hidden');
  }

  function draw() {
    const c = $('chart'); const g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    const line = (key, scale, colour) => {
      g.strokeStyle = colour; g.lineWidth = 2; g.beginPath();
      points.forEach((p, i) => {
        const x = (i / Math.max(points.length - 1, 1)) * (c.width - 20) + 10;
        const y = c.height - 10 - (p[key] / scale) * (c.height - 20);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    };
    line('cpu', 100, '#1971c2');
    line('memory', 500, '#e8590c');
  }

  const handlers = {
    container_status_changed(d) {
      $('status').className = `badge ${d.status}`;
      $('status').textContent = d.status;
      if (d.status === 'running') $('alert').classList.add('hidden');
      if (d.status === 'stopped') $('progress-bar').style.width = '0%';
      log(`status → ${d.status}`, d.status === 'error' ? 'error' : 'info');
    },
    deployment_progress(d) {
      $('progress-bar').style.width = `${d.progress}%`;
      log(`[${d.step}] ${d.message} (${d.progress}%)`, d.level);
    },
    metrics_updated(d) {
      const m = d.metrics;
      $('cpu').textContent = `${m.cpu}%`;
      $('memory').textContent = `${m.memory} MB`;
      $('requests').textContent = m.requests;
      $('uptime').textContent = m.uptime;
      points.push(m);
      if (points.length > 10) points.shift();
      draw();
      document.body.dataset.metrics = String(Number(document.body.dataset.metrics || 0) + 1);
    },
    auto_shutdown(d) {
      $('alert').textContent = `Paused: ${d.reason} (${Math.round(d.inactiveTime / 60)} min without activity).`;
      $('alert').classList.remove('hidden');
      log(`auto shutdown: ${d.reason}`, 'warning');
    },
  };

  const base = `http://${clarion.host}:${clarion.port}`;
  if (transport === 'sse') {
    $('transport-note').textContent = `Server-Sent Events: GET ${base}/app/${clarion.key}/events?channels=${channel}&token=…`;
    const es = new EventSource(`${base}/app/${clarion.key}/events?channels=${encodeURIComponent(channel)}&token=${encodeURIComponent(token)}`);
    es.onopen = () => connection('connected');
    es.onerror = () => connection(es.readyState === EventSource.CLOSED ? 'disconnected' : 'connecting');
    for (const name of Object.keys(handlers)) es.addEventListener(name, (e) => handlers[name](JSON.parse(e.data)));
    window.dashboard = { es };
  } else {
    $('transport-note').textContent = `Laravel Echo over WebSocket, authorised by ${base}/app/${clarion.key}/auth with a bearer JWT`;
    const EchoClass = window.Echo.default || window.Echo;
    const echo = new EchoClass({
      broadcaster: 'reverb', key: clarion.key, wsHost: clarion.host, wsPort: clarion.port,
      forceTLS: false, enabledTransports: ['ws'],
      authEndpoint: `${base}/app/${clarion.key}/auth`,
      auth: { headers: { Authorization: `Bearer ${token}` } },
    });
    echo.connector.pusher.connection.bind('state_change', ({ current }) => connection(current === 'connected' ? 'connected' : current === 'connecting' ? 'connecting' : 'disconnected'));
    const ch = echo.private(`user.${user.id}`);
    for (const name of Object.keys(handlers)) ch.listen(`.${name}`, handlers[name]);
    ch.subscribed(() => { document.body.dataset.subscribed = 'yes'; });
    window.dashboard = { echo };
  }

  for (const action of ['start', 'stop', 'idle']) {
    $(action).addEventListener('click', () => fetch(`/api/containers/proj-123/${action}`, { method: 'POST' }));
  }
})();
