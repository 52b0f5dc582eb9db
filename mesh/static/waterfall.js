// One trace as Jaeger's waterfall: spans in tree order, a name column that can be dragged wider or narrower, full
// names on hover, and a span's tags (and logs) in a table on click.
(function () {
  /** Spans in tree order (parents before children, siblings by start time), with their depth. */
  function ordered(spans) {
    const ids = new Set(spans.map((s) => s.spanID));
    const children = new Map();
    const roots = [];
    for (const span of spans) {
      const parent = (span.references.find((r) => r.refType === 'CHILD_OF') || {}).spanID;
      if (parent && ids.has(parent)) (children.get(parent) || children.set(parent, []).get(parent)).push(span);
      else roots.push(span);
    }
    const out = [];
    const walk = (span, depth) => {
      out.push({ span, depth });
      for (const child of (children.get(span.spanID) || []).sort((a, b) => a.startTime - b.startTime)) walk(child, depth + 1);
    };
    for (const root of roots.sort((a, b) => a.startTime - b.startTime)) walk(root, 0);
    return out;
  }

  /** The header: the resize handle on the name column's edge and time ticks over the timeline. */
  function header(detail, total, { ms, el }) {
    const ticks = el(
      'div',
      { className: 'ticks' },
      ...[0, 0.25, 0.5, 0.75, 1].map((f) => el('span', { style: `left:${f * 100}%`, textContent: ms(Math.round(total * f)) })),
    );
    const handle = el('div', { className: 'resizer', title: 'drag to resize the name column', role: 'separator' });
    const head = el('div', { className: 'wf-head' }, el('div', { textContent: 'service · operation' }), el('div', {}, ticks), handle);
    handle.dataset.test = 'name-resizer';
    handle.addEventListener('pointerdown', (down) => {
      handle.setPointerCapture(down.pointerId);
      const left = detail.getBoundingClientRect().left;
      const move = (e) => {
        const width = Math.max(140, Math.min(detail.clientWidth - 120, e.clientX - left));
        detail.style.setProperty('--name-width', `${width}px`);
      };
      const up = () => {
        handle.removeEventListener('pointermove', move);
        handle.removeEventListener('pointerup', up);
      };
      handle.addEventListener('pointermove', move);
      handle.addEventListener('pointerup', up);
    });
    return head;
  }

  function tagTable(span, service, el) {
    const rows = [
      ['service', service],
      ['span id', span.spanID],
      ['start', new Date(span.startTime / 1000).toISOString()],
      ['duration', `${span.duration} µs`],
      ...span.tags.map((t) => [t.key, String(t.value)]),
    ];
    for (const log of span.logs || []) rows.push([`log @${log.timestamp}`, (log.fields || []).map((f) => `${f.key}=${f.value}`).join(' ')]);
    return el('div', { className: 'tags' }, el('table', {}, ...rows.map(([k, v]) => el('tr', {}, el('td', { textContent: k }), el('td', { textContent: v })))));
  }

  function spanRow(span, depth, trace, bounds, helpers) {
    const { spanColor, ms, el } = helpers;
    const tags = Object.fromEntries(span.tags.map((t) => [t.key, t.value]));
    const service = trace.processes[span.processID].serviceName;
    const version = tags['istio.canonical_revision'];
    const error = tags.error === true || tags.error === 'true';
    const flags = String(tags.response_flags || '-');
    const fault = /\b(FI|DI)\b/.test(flags);
    const color = spanColor(service, version);
    const kind = tags['span.kind'] || '';
    const name = el(
      'div',
      {
        className: 'name',
        style: `padding-left:${8 + depth * 12}px`,
        title: `${service}${/^v\d+$/.test(version || '') ? ` ${version}` : ''} (${kind})\n${span.operationName}`,
      },
      el('span', { className: 'svc', style: `color:${color}`, textContent: service }),
      /^v\d+$/.test(version || '') ? el('span', { className: 'chip', style: `background:${color};margin-left:4px`, textContent: version }) : null,
      ' ',
      el('span', { className: 'op', textContent: span.operationName }),
      error ? el('span', { className: 'flag', textContent: `error ${tags['http.status_code'] || ''}`.trim() }) : null,
      flags !== '-' ? el('span', { className: `flag${fault ? ' fault' : ''}`, textContent: fault ? `fault ${flags}` : flags }) : null,
    );
    const left = ((span.startTime - bounds.start) / bounds.total) * 100;
    const width = (span.duration / bounds.total) * 100;
    const bar = el('div', { className: 'bar', style: `left:${left}%;width:${width}%;background:${color}` });
    // The duration inside a long bar, else beside it: after it, or before it when the bar ends near the right edge.
    const place = width > 30 ? `left:${left + 0.5}%;color:#fff` : left + width > 80 ? `right:${100 - left + 0.5}%` : `left:${left + width + 0.5}%`;
    const dur = el('span', { className: 'dur', textContent: ms(span.duration), style: place });
    const row = el('div', { className: `span${error ? ' error' : ''}` }, name, el('div', { className: 'track' }, bar, dur));
    Object.assign(row.dataset, { test: 'span-row', service, operation: span.operationName, error: String(error), flags, kind });
    row.addEventListener('click', (event) => {
      if (event.target.closest('.tags')) return;
      const open = row.querySelector('.tags');
      if (open) open.remove();
      else row.append(tagTable(span, service, el));
    });
    return row;
  }

  function render(detail, trace, helpers) {
    const { ms, el } = helpers;
    const start = Math.min(...trace.spans.map((s) => s.startTime));
    const end = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
    const bounds = { start, total: Math.max(1, end - start) };
    const counts = {};
    for (const span of trace.spans) counts[trace.processes[span.processID].serviceName] = (counts[trace.processes[span.processID].serviceName] || 0) + 1;
    const summary = `${trace.spans.length} spans · ${Object.entries(counts)
      .map(([s, n]) => `${s} (${n})`)
      .join(', ')} · ${ms(bounds.total)}${trace.warnings ? ' · ' + trace.warnings.join('; ') : ''}`;
    detail.replaceChildren(
      el('h2', { textContent: `Trace ${trace.traceID}` }),
      el('p', { className: 'muted', style: 'margin: 0 16px 8px', textContent: summary }),
      header(detail, bounds.total, helpers),
      ...ordered(trace.spans).map(({ span, depth }) => spanRow(span, depth, trace, bounds, helpers)),
    );
    detail.dataset.traceId = trace.traceID;
  }

  window.waterfall = { render, ordered };
})();
