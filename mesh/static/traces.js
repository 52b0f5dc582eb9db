// The trace page, used as Jaeger's search is: filters, a duration-over-time scatter, a sortable result list, and
// one trace as a waterfall with a resizable name column, full names on hover and a span's tags on click.
(function () {
  const { versionColor, serviceColor } = window.meshPalette;
  const params = new URLSearchParams(location.search);
  const state = {
    service: params.get('service') || '',
    operation: params.get('operation') || '',
    minDuration: params.get('minDuration') || '',
    errors: params.get('errors') === 'true',
    limit: params.get('limit') || '100',
    from: params.get('from') || '',
    to: params.get('to') || '',
    trace: params.get('trace') || '',
    sort: 'startTime',
    ascending: false,
    rows: [],
  };
  const $ = (id) => document.getElementById(id);
  const ms = (us) => (us >= 1000 ? `${(us / 1000).toFixed(us >= 100000 ? 0 : us >= 10000 ? 1 : 2)} ms` : `${us} µs`);
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  };
  const svg = (tag, attrs) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  };
  /** A span's colour: its workload's version when it has one (one palette with the app and the graph), else its service's. */
  const spanColor = (service, version) => (/^v\d+$/.test(version || '') ? versionColor(version) : serviceColor(service));

  function syncUrl() {
    const q = new URLSearchParams();
    for (const key of ['service', 'operation', 'minDuration', 'from', 'to', 'trace']) if (state[key]) q.set(key, state[key]);
    if (state.errors) q.set('errors', 'true');
    if (state.limit !== '100') q.set('limit', state.limit);
    history.replaceState(null, '', `/traces${q.toString() ? `?${q}` : ''}`);
  }

  function fillSelect(select, names, value) {
    const all = [...new Set([...names, value].filter(Boolean))].sort();
    select.replaceChildren(el('option', { value: '', textContent: 'all' }), ...all.map((n) => el('option', { value: n, textContent: n })));
    select.value = value;
  }

  async function loadServices() {
    const body = await (await fetch('/api/services')).json();
    fillSelect($('service'), body.data || [], state.service);
    let operations = [];
    if (state.service) {
      const ops = await fetch(`/api/services/${encodeURIComponent(state.service)}/operations`);
      if (ops.ok) operations = (await ops.json()).data || [];
    }
    fillSelect($('operation'), operations, state.operation);
  }

  async function loadList() {
    const q = new URLSearchParams({ limit: state.limit });
    for (const key of ['service', 'operation', 'minDuration', 'from', 'to']) if (state[key]) q.set(key, state[key]);
    if (state.errors) q.set('errors', 'true');
    const response = await fetch(`/api/traces/summary?${q}`);
    const body = await response.json();
    if (!response.ok) {
      $('status').textContent = (body.errors && body.errors[0] && body.errors[0].msg) || `HTTP ${response.status}`;
      return;
    }
    state.rows = body.data || [];
    renderList();
    renderScatter();
    const s = body.store;
    $('status').textContent =
      `${state.rows.length} shown · stored ${s.traces} traces (at most ${s.maxTraces}, ${Math.round(s.bytes / 1024)} of ${Math.round(s.maxBytes / 1024)} KiB) · ${new Date().toLocaleTimeString()}`;
  }

  function sortedRows() {
    const key = state.sort;
    return [...state.rows].sort((a, b) => (state.ascending ? a[key] - b[key] : b[key] - a[key]));
  }

  /** The column name, shown before the value where the table becomes cards (a phone). */
  const labelled = (td, label) => Object.assign(td.dataset, { label }) && td;

  function renderList() {
    for (const th of document.querySelectorAll('th.sortable')) {
      th.classList.toggle('sorted', th.dataset.sort === state.sort);
      th.classList.toggle('asc', th.dataset.sort === state.sort && state.ascending);
    }
    const longest = Math.max(1, ...state.rows.map((t) => t.duration));
    $('traces').replaceChildren(
      ...sortedRows().map((t) => {
        const services = Object.entries(t.serviceSpans || {}).map(([name, count]) =>
          el('span', { className: 'chip', style: `background:${serviceColor(name)}`, title: `${name}: ${count} spans`, textContent: `${name} (${count})` }),
        );
        const duration = el('td', {
          className: 'num duration',
          textContent: ms(t.duration),
          title: `${Math.round((t.duration / longest) * 100)}% of the longest shown`,
        });
        const tr = el(
          'tr',
          { className: `trace${t.traceID === state.trace ? ' selected' : ''}` },
          el('td', {
            className: 'muted time',
            textContent: new Date(t.startTime / 1000).toLocaleTimeString(),
            title: new Date(t.startTime / 1000).toISOString(),
          }),
          el(
            'td',
            { className: 'root' },
            el('span', { className: 'svc', style: `color:${serviceColor(t.rootService)}`, textContent: t.rootService }),
            ': ',
            el('span', { className: 'root-op', textContent: t.rootOperation }),
          ),
          el('td', { className: 'services' }, ...services),
          labelled(el('td', { className: 'num spans', textContent: t.spans }), 'spans'),
          labelled(el('td', { className: `num errors ${t.errors ? 'err' : 'muted'}`, textContent: t.errors }), 'errors'),
          duration,
        );
        Object.assign(tr.dataset, { test: 'trace-row', traceId: t.traceID, errors: t.errors });
        tr.addEventListener('click', () => openTrace(t.traceID));
        return tr;
      }),
    );
    $('no-traces').hidden = state.rows.length > 0;
  }

  /** Jaeger's scatter: each trace a dot, start time across, duration up; red when it has errors. */
  function renderScatter() {
    const plot = $('scatter');
    const { width, height } = plot.getBoundingClientRect();
    plot.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const pad = { left: 56, right: 12, top: 10, bottom: 20 };
    const rows = state.rows;
    const t0 = Math.min(...rows.map((r) => r.startTime));
    const t1 = Math.max(...rows.map((r) => r.startTime));
    const top = Math.max(1, ...rows.map((r) => r.duration));
    const x = (t) => pad.left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
    const y = (d) => height - pad.bottom - (d / top) * (height - pad.top - pad.bottom);
    const parts = [
      svg('line', { x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom, stroke: '#c3ccd5' }),
      Object.assign(svg('text', { x: 4, y: pad.top + 9, 'font-size': 11, fill: '#5b6b7b' }), { textContent: ms(top) }),
      Object.assign(svg('text', { x: 4, y: height - pad.bottom, 'font-size': 11, fill: '#5b6b7b' }), { textContent: '0' }),
    ];
    if (rows.length) {
      parts.push(
        Object.assign(svg('text', { x: pad.left, y: height - 5, 'font-size': 11, fill: '#5b6b7b' }), { textContent: new Date(t0 / 1000).toLocaleTimeString() }),
      );
      parts.push(
        Object.assign(svg('text', { x: width - pad.right, y: height - 5, 'font-size': 11, fill: '#5b6b7b', 'text-anchor': 'end' }), {
          textContent: new Date(t1 / 1000).toLocaleTimeString(),
        }),
      );
    }
    for (const r of rows) {
      const dot = svg('circle', {
        cx: x(r.startTime),
        cy: y(r.duration),
        r: r.traceID === state.trace ? 6 : 4,
        fill: r.errors ? '#d33' : '#0a58a8',
        'fill-opacity': 0.6,
        stroke: r.traceID === state.trace ? '#1d2733' : 'none',
        'data-trace-id': r.traceID,
      });
      dot.append(
        Object.assign(svg('title', {}), { textContent: `${r.rootService}: ${r.rootOperation}\n${ms(r.duration)} · ${r.spans} spans · ${r.errors} errors` }),
      );
      dot.addEventListener('click', () => openTrace(r.traceID));
      parts.push(dot);
    }
    plot.replaceChildren(...parts);
  }

  async function refresh() {
    try {
      await Promise.all([loadServices(), loadList()]);
    } catch (error) {
      $('status').textContent = `mesh not reachable: ${error.message}`;
    }
  }

  // ------------------------------------------------------------------ search form

  $('errors').checked = state.errors;
  $('minDuration').value = state.minDuration;
  $('limit').value = state.limit;
  $('service').addEventListener('change', (e) => {
    state.service = e.target.value;
    state.operation = '';
    syncUrl();
    refresh();
  });
  $('operation').addEventListener('change', (e) => {
    state.operation = e.target.value;
    syncUrl();
    loadList();
  });
  $('errors').addEventListener('change', (e) => {
    state.errors = e.target.checked;
    syncUrl();
    loadList();
  });
  $('limit').addEventListener('change', (e) => {
    state.limit = e.target.value;
    syncUrl();
    loadList();
  });
  $('search').addEventListener('submit', (e) => {
    e.preventDefault();
    state.minDuration = $('minDuration').value.trim();
    syncUrl();
    refresh();
  });
  for (const th of document.querySelectorAll('th.sortable')) {
    th.addEventListener('click', () => {
      state.ascending = state.sort === th.dataset.sort ? !state.ascending : false;
      state.sort = th.dataset.sort;
      renderList();
    });
  }
  if (state.from || state.to) {
    const hop = $('hop');
    hop.hidden = false;
    const clear = el('a', { href: '#', textContent: '×', title: 'show all traces' });
    clear.addEventListener('click', (e) => {
      e.preventDefault();
      state.from = state.to = '';
      hop.hidden = true;
      syncUrl();
      loadList();
    });
    hop.append(`hop ${state.from || '*'} → ${state.to || '*'} `, clear);
  }
  window.traceView = { state, openTrace: (id) => openTrace(id) };
  window.addEventListener('resize', () => renderScatter());

  // ------------------------------------------------------------------ one trace

  async function openTrace(id) {
    state.trace = id;
    syncUrl();
    for (const row of document.querySelectorAll('tr.trace')) row.classList.toggle('selected', row.dataset.traceId === id);
    renderScatter();
    const response = await fetch(`/api/traces/${encodeURIComponent(id)}`);
    const body = await response.json();
    if (!response.ok) {
      $('detail').replaceChildren(
        el('p', { className: 'empty', textContent: `Trace ${id}: ${(body.errors && body.errors[0] && body.errors[0].msg) || response.status}` }),
      );
      return;
    }
    window.waterfall.render($('detail'), body.data[0], { spanColor, ms, el });
  }

  refresh().then(() => {
    if (state.trace) openTrace(state.trace);
  });
  setInterval(() => loadList().catch(() => undefined), 5000);
})();
