// Seed 002's web client: Laravel Echo on `security-dashboard` (a private
// channel), authorised with the guard's bearer token — here by Clarion's
// built-in endpoint at /broadcasting/auth behind the balancer, the same
// path and header the seed sends to Laravel.
(async function () {
  const $ = (id) => document.getElementById(id);
  const session = await (await fetch('/api/session')).json();
  $('guard').textContent = session.guard.name;
  const base = `http://${session.balancer.host}:${session.balancer.port}`;
  const EchoClass = window.Echo.default || window.Echo;
  const echo = new EchoClass({
    broadcaster: 'reverb', key: session.key,
    wsHost: session.balancer.host, wsPort: session.balancer.port, forceTLS: false, enabledTransports: ['ws'],
    authEndpoint: `${base}/broadcasting/auth`,
    auth: { headers: { Authorization: `Bearer ${session.token}`, Accept: 'application/json' } },
  });
  echo.connector.pusher.connection.bind('state_change', ({ current }) => {
    $('connection').textContent = current;
    $('connection').className = `conn ${current}`;
  });
  const alerts = new Map();
  function render() {
    const items = [...alerts.values()].sort((a, b) => b.id - a.id).map((a) => {
      const li = document.createElement('li');
      li.className = a.status;
      li.dataset.id = a.id;
      li.innerHTML = '<span><span class="where"></span><span class="who"></span></span><span class="state"></span>';
      li.querySelector(".where").textContent = a.location;
      li.querySelector('.who').textContent = `${a.resident} · ${new Date(a.triggered_at).toLocaleTimeString()}`;
      li.querySelector('.state').textContent = a.status;
      return li;
    });
    $('alerts').replaceChildren(...(items.length ? items : [Object.assign(document.createElement('li'), { className: 'empty', textContent: 'No active alerts.' })]));
  }
  echo.private('security-dashboard')
    .listen('.panic-alert.triggered', (e) => { alerts.set(e.alert.id, e.alert); render(); })
    .listen('.panic-alert.updated', (e) => { alerts.set(e.alert.id, e.alert); render(); })
    .subscribed(() => { document.body.dataset.subscribed = 'yes'; });
  $('raise').addEventListener('click', () => fetch('/api/alerts', { method: 'POST', body: '{}' }));
})();
