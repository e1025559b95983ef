// The status page of seed 003: Laravel Echo on organization.{id}, every
// event of the status app rendered as it arrives. Echo's 'reverb'
// broadcaster is pusher-js underneath; Clarion stands in for Reverb.
(function () {
  const cfg = window.STATUS_PAGE;
  const services = new Map([
    [1, { id: 1, name: 'API', status: 'operational' }],
    [2, { id: 2, name: 'Dashboard', status: 'operational' }],
    [3, { id: 3, name: 'Webhooks', status: 'operational' }],
  ]);
  const incidents = new Map();
  const maintenance = new Map();
  const label = (s) => s.replace(/_/g, ' ');
  const el = (id) => document.getElementById(id);

  function row(text, status, dataId) {
    const li = document.createElement('li');
    li.dataset.id = dataId;
    const name = document.createElement('span');
    name.textContent = text;
    const pill = document.createElement('span');
    pill.className = `pill ${status}`;
    pill.textContent = label(status);
    li.append(name, pill);
    return li;
  }

  function render() {
    el('services').replaceChildren(...[...services.values()].map((s) => row(s.name, s.status, `service-${s.id}`)));
    const inc = [...incidents.values()];
    el('incidents').replaceChildren(...(inc.length ? inc.map((i) => row(i.title, i.status, `incident-${i.id}`))
      : [Object.assign(document.createElement('li'), { className: 'empty', textContent: 'No incidents.' })]));
    const mnt = [...maintenance.values()];
    el('maintenance').replaceChildren(...(mnt.length ? mnt.map((m) => row(m.title, m.status, `maintenance-${m.id}`))
      : [Object.assign(document.createElement('li'), { className: 'empty', textContent: 'No maintenance scheduled.' })]));
  }

  function touched(event) {
    el('last-update').textContent = `Last update: ${event} at ${new Date().toLocaleTimeString()}`;
    render();
  }

  // The IIFE build exposes the module: the class is its default export.
  const EchoClass = window.Echo.default || window.Echo;
  const echo = new EchoClass({
    broadcaster: 'reverb',
    key: cfg.key,
    wsHost: cfg.host,
    wsPort: cfg.port,
    forceTLS: false,
    enabledTransports: ['ws'],
  });
  const connection = echo.connector.pusher.connection;
  connection.bind('state_change', ({ current }) => {
    const pill = el('connection');
    pill.textContent = current;
    pill.className = `pill ${current === 'connected' ? 'connected' : 'disconnected'}`;
  });

  echo.channel(`organization.${cfg.organization}`)
    .listen('.service.status.changed', (e) => {
      const s = services.get(e.service.id) || { id: e.service.id, name: e.service.name };
      services.set(s.id, { ...s, name: e.service.name, status: e.new_status });
      touched('service.status.changed');
    })
    .listen('.incident.created', (e) => { incidents.set(e.incident.id, e.incident); touched('incident.created'); })
    .listen('.incident.updated', (e) => { incidents.set(e.incident.id, e.incident); touched('incident.updated'); })
    .listen('.incident.resolved', (e) => { incidents.set(e.incident.id, { ...e.incident, status: 'resolved' }); touched('incident.resolved'); })
    .listen('.maintenance.scheduled', (e) => { maintenance.set(e.maintenance.id, { ...e.maintenance, status: 'scheduled' }); touched('maintenance.scheduled'); })
    .listen('.maintenance.started', (e) => { maintenance.set(e.maintenance.id, { ...e.maintenance, status: 'in_progress' }); touched('maintenance.started'); })
    .listen('.maintenance.completed', (e) => { maintenance.set(e.maintenance.id, { ...e.maintenance, status: 'completed' }); touched('maintenance.completed'); });

  window.statusPage = { echo, services, incidents, maintenance };
  render();
})();
