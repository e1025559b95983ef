// Seed 000's widget, pushed instead of polled. Default: Laravel Echo, as
// the seed's final version (`Echo.channel('system-health')
// .listen('SystemHealthUpdated', e => setHealth(e.health))`). With
// ?transport=sse the same widget reads Clarion's event stream instead —
// the seed's SSE variant without a PHP loop holding a worker per client.
(function () {
  const cfg = window.SYSTEM_HEALTH;
  const $ = (id) => document.getElementById(id);
  const transport = new URLSearchParams(location.search).get('transport') || 'echo';

  function render(health) {
    $('global').className = `badge ${health.global_status}`;
    $('global').textContent = health.global_status;
    $('services').replaceChildren(...Object.entries(health.services).map(([key, s]) => {
      const row = document.createElement('div');
      row.className = `service ${s.status}`;
      row.dataset.service = key;
      row.innerHTML = '<span class="name"></span><span class="latency"></span><span class="indicator"></span>';
      row.querySelector('.name').textContent = key.replace('_', ' ');
      row.querySelector('.latency').textContent = `${s.latency_ms}ms`;
      row.querySelector('.indicator').className = `indicator ${s.status}`;
      return row;
    }));
    $('cpu').textContent = `${health.droplet.cpu_usage}%`;
    $('memory').textContent = `${health.droplet.memory} MB`;
    $('region').textContent = health.droplet.region;
    $('updated').textContent = new Date().toLocaleTimeString();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  if (transport === 'sse') {
    $('transport').textContent = 'Server-Sent Events';
    const url = `http://${cfg.host}:${cfg.port}/app/${cfg.key}/events?channels=system-health`;
    const es = new EventSource(url);
    es.onopen = () => { document.body.dataset.ready = 'yes'; };
    es.addEventListener('App\\Events\\SystemHealthUpdated', (e) => render(JSON.parse(e.data).health));
  } else {
    $('transport').textContent = 'Laravel Echo';
    const EchoClass = window.Echo.default || window.Echo;
    const echo = new EchoClass({ broadcaster: 'reverb', key: cfg.key, wsHost: cfg.host, wsPort: cfg.port, forceTLS: false, enabledTransports: ['ws'] });
    echo.channel('system-health')
      .listen('SystemHealthUpdated', (e) => render(e.health))
      .subscribed(() => { document.body.dataset.ready = 'yes'; });
  }
})();
