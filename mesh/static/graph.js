// The traffic graph page (Kiali-like): graph.json drawn with cytoscape, laid out by dagre in layers (left to right
// on a wide screen, top to bottom on a narrow one), at a zoom where every label is at least 11 px.
/* global cytoscape */
(function () {
  const { edgeLabel, nodeLabel, placeLabels, bytesPerSecond, ms } = window.graphLabels;
  const { versionColor } = window.meshPalette;
  /** Labels are 11 px (edges) and 12 px (nodes) at zoom 1: the view never zooms out below that. */
  const MIN_ZOOM = 1;
  const MAX_FIT_ZOOM = 1.4;

  // Badge icons as inline SVG (16×16, stroked in currentColor): no font has to have the glyphs.
  const badgeIcons = {
    virtualService: { title: 'virtual service', svg: '<path d="M8 1.5v13M8 3h4.5l1.5 1.5L12.5 6H8M8 8H3.5L2 9.5 3.5 11H8"/>' },
    trafficShifting: { title: 'traffic shifting', svg: '<path d="M2 5h11M10 2l3 3-3 3M14 11H3M6 8l-3 3 3 3"/>' },
    faultInjection: { title: 'fault injection', svg: '<path d="M9.5 1.5 3.5 9h4l-1 5.5 6-7.5h-4z" fill="currentColor"/>' },
    timeout: { title: 'timeout', svg: '<circle cx="8" cy="8.5" r="6"/><path d="M8 5v3.5l2.5 1.5M6 1h4"/>' },
    retry: { title: 'retry', svg: '<path d="M13 8a5 5 0 1 1-1.5-3.6M12 1.5v3.2H8.8"/>' },
    circuitBreaker: { title: 'circuit breaker', svg: '<circle cx="8" cy="8" r="6"/><path d="M3.8 12.2l8.4-8.4"/>' },
    mirror: { title: 'mirroring', svg: '<rect x="2" y="2" width="8" height="8" rx="1"/><rect x="6" y="6" width="8" height="8" rx="1"/>' },
  };
  const padlock =
    '<svg class="lock" viewBox="0 0 16 16" aria-label="mTLS"><title>mTLS</title><rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="currentColor"/><path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="2"/></svg>';
  const iconSvg = (badge) => {
    const icon = badgeIcons[badge] || { title: badge, svg: '<circle cx="8" cy="8" r="3" fill="currentColor"/>' };
    return `<svg class="icon icon-${badge}" data-badge="${badge}" viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" role="img" aria-label="${icon.title}"><title>${icon.title}</title>${icon.svg}</svg>`;
  };
  document.getElementById('legend').insertAdjacentHTML(
    'beforeend',
    ` <span>${padlock.replace('class="lock"', 'class="icon"')} mTLS</span>` +
      Object.keys(badgeIcons)
        .map((b) => `<span>${iconSvg(b)} ${badgeIcons[b].title}</span>`)
        .join(''),
  );

  const cy = cytoscape({
    container: document.getElementById('graph'),
    minZoom: MIN_ZOOM,
    maxZoom: 3,
    wheelSensitivity: 0.3,
    style: [
      {
        selector: 'node',
        style: {
          label: 'data(label)',
          'text-valign': 'bottom',
          'text-margin-y': 4,
          'font-size': 12,
          'background-color': 'data(color)',
          width: 28,
          height: 28,
          'text-background-color': '#fff',
          'text-background-opacity': 0.85,
          'text-background-padding': 1,
        },
      },
      { selector: 'node[type = "service"]', style: { shape: 'triangle', 'background-color': '#5b6b7b' } },
      { selector: 'node[type = "unknown"]', style: { shape: 'diamond', 'background-color': '#aab4be' } },
      { selector: 'node[notReady > 0]', style: { 'border-width': 3, 'border-color': '#d33' } },
      // Kiali's app box: an app's service and its versions in one frame, the app's name at its top.
      {
        selector: ':parent',
        style: {
          shape: 'round-rectangle',
          'background-color': '#f4f7fb',
          'background-opacity': 1,
          'border-color': '#9aa8b6',
          'border-width': 1,
          'border-style': 'dashed',
          label: 'data(label)',
          'text-valign': 'top',
          'text-halign': 'center',
          'text-margin-y': -2,
          'font-size': 12,
          'font-weight': 600,
          color: '#3d4b59',
          padding: 14,
        },
      },
      { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#2f6fde' } },
      { selector: '.idle', style: { display: 'none' } },
      {
        selector: 'edge',
        style: {
          width: 'data(width)',
          'curve-style': 'bezier',
          'target-arrow-shape': 'triangle',
          label: 'data(label)',
          'text-wrap': 'wrap',
          'font-size': 11,
          'text-background-color': '#fff',
          'text-background-opacity': 0.95,
          'text-background-padding': 2,
          'text-margin-x': 'data(dx)',
          'text-margin-y': 'data(dy)',
          'line-color': 'data(color)',
          'target-arrow-color': 'data(color)',
        },
      },
      { selector: 'edge[protocol = "tcp"]', style: { 'line-style': 'dashed' } },
      { selector: 'edge:selected', style: { 'underlay-color': '#2f6fde', 'underlay-opacity': 0.25, 'underlay-padding': 4 } },
    ],
  });
  // For debugging in the browser console (and the browser tests).
  window.meshGraph = cy;

  const state = { graph: undefined, layoutKey: '', selected: '' };
  const shownLabels = () => Object.fromEntries([...document.querySelectorAll('input[name=label]')].map((i) => [i.value, i.checked]));
  const percentile = () => document.getElementById('percentile').value;
  const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

  /** Boxes for apps with more than one version (their service node goes in the box too, as in Kiali). */
  function appBoxes(nodes) {
    const versions = new Map();
    for (const n of nodes) if (n.nodeType === 'workload' && n.app && n.version) versions.set(n.app, (versions.get(n.app) || 0) + 1);
    return new Set([...versions].filter(([, count]) => count > 1).map(([app]) => app));
  }

  function edgeColor(e) {
    if (e.protocol === 'tcp') return '#3f6fb5';
    return e.errorPercent >= 20 ? '#d33' : e.errorPercent > 0 ? '#e8a33a' : '#2a9d5b';
  }
  function edgeWidth(e) {
    const amount = e.protocol === 'tcp' ? (e.tcp ? e.tcp.bytesPerSecond / 1024 : 0) : e.rate;
    return Math.max(1.5, Math.min(7, 1 + Math.log2(1 + amount)));
  }

  function elementsOf(graph) {
    const boxes = appBoxes(graph.nodes);
    const shown = shownLabels();
    const inBox = (n) => (n.app && boxes.has(n.app) && (n.nodeType === 'workload' || n.name === n.app) ? `box:${n.app}` : undefined);
    return [
      ...[...boxes].map((app) => ({ group: 'nodes', data: { id: `box:${app}`, label: app, type: 'box' } })),
      ...graph.nodes.map((n) => ({
        group: 'nodes',
        data: {
          id: n.id,
          parent: inBox(n),
          type: n.nodeType,
          app: n.app,
          name: n.name,
          label: nodeLabel(n),
          color: n.version ? versionColor(n.version) : '#5b6b7b',
          notReady: n.replicas ? n.replicas.total - n.replicas.ready : 0,
        },
      })),
      ...graph.edges.map((e) => ({
        group: 'edges',
        data: {
          id: e.id,
          source: e.source,
          target: e.target,
          protocol: e.protocol || 'http',
          label: edgeLabel(e, shown, percentile()),
          width: edgeWidth(e),
          color: edgeColor(e),
          mtls: e.mtlsPercent,
        },
      })),
    ];
  }

  /** Idle nodes (no edge in the window) and boxes left empty are hidden unless the toggle says otherwise. */
  function markIdle() {
    const showIdle = document.getElementById('idle').checked;
    cy.nodes().forEach((n) => {
      if (!n.isParent()) n.toggleClass('idle', !showIdle && n.connectedEdges().length === 0);
    });
    cy.nodes(':parent').forEach((box) =>
      box.toggleClass(
        'idle',
        box.children().every((c) => c.hasClass('idle')),
      ),
    );
  }

  function layout() {
    const narrow = document.getElementById('canvas').clientWidth < 700;
    const visible = cy.elements().not('.idle');
    visible
      .layout({
        name: 'dagre',
        rankDir: narrow ? 'TB' : 'LR',
        nodeSep: narrow ? 16 : 40,
        rankSep: narrow ? 64 : 80,
        edgeSep: 12,
        nodeDimensionsIncludeLabels: true,
        fit: false,
        animate: false,
      })
      .run();
    spreadAcrossLayers(narrow);
  }

  /**
   * dagre packs the nodes of a layer tightly; the view's zoom is set by the other direction (the layers). Spread
   * the nodes across the layers to use the canvas (at most 3×): more room for the edge labels between them.
   */
  function spreadAcrossLayers(narrow) {
    const canvas = document.getElementById('canvas');
    const nodes = cy.nodes(':visible').filter((n) => !n.isParent());
    const box = nodes.boundingBox();
    if (!Number.isFinite(box.w) || box.w === 0) return;
    const free = { w: canvas.clientWidth - 48, h: Math.max(320, window.innerHeight - canvas.getBoundingClientRect().top - 80) };
    const zoom = Math.max(MIN_ZOOM, Math.min(MAX_FIT_ZOOM, narrow ? free.w / box.w : free.w / box.w));
    const along = narrow ? 'x' : 'y';
    const span = narrow ? box.w : box.h;
    const room = (narrow ? free.w : free.h) / zoom;
    const factor = Math.min(3, room / Math.max(span, 1));
    if (narrow || factor <= 1.05) return;
    const centre = (box[`${along}1`] + box[`${along}2`]) / 2;
    nodes.positions((n) => ({ ...n.position(), [along]: centre + (n.position()[along] - centre) * factor }));
  }

  /** Fits the graph at a zoom between MIN_ZOOM and MAX_FIT_ZOOM; when it needs more height than the window has, the canvas grows and the page scrolls. */
  function fitView() {
    const canvas = document.getElementById('canvas');
    const free = Math.max(320, window.innerHeight - canvas.getBoundingClientRect().top - document.getElementById('legend').offsetHeight);
    const box = cy.elements(':visible').boundingBox();
    if (!Number.isFinite(box.w) || box.w === 0) {
      canvas.style.height = `${free}px`;
      cy.resize();
      return;
    }
    const pad = 24;
    const widthZoom = (canvas.clientWidth - 2 * pad) / box.w;
    const zoom = Math.max(MIN_ZOOM, Math.min(MAX_FIT_ZOOM, widthZoom, (free - 2 * pad) / box.h));
    canvas.style.height = `${Math.max(free, Math.ceil(box.h * zoom + 2 * pad))}px`;
    cy.resize();
    cy.zoom(zoom);
    // Centred when it fits; from the left edge (pan to see the rest) when it does not.
    const x = box.w * zoom <= canvas.clientWidth - 2 * pad ? (canvas.clientWidth - box.w * zoom) / 2 - box.x1 * zoom : pad - box.x1 * zoom;
    cy.pan({ x, y: pad - box.y1 * zoom });
  }

  const measure = document.createElement('canvas').getContext('2d');
  /** Width of a text in an element's label font, in graph units. */
  function textWidth(text, element) {
    measure.font = `${element.style('font-style')} ${element.style('font-weight')} ${element.style('font-size')} ${element.style('font-family')}`;
    return measure.measureText(text).width;
  }

  /** Badge rows above nodes and padlocks at the start of mTLS edge labels, in rendered pixels. */
  function drawOverlay() {
    const parts = [];
    const zoom = cy.zoom();
    cy.nodes(':visible').forEach((n) => {
      const badges = (state.badges && state.badges.get(n.id())) || [];
      if (n.isParent() || badges.length === 0) return;
      const p = n.renderedPosition();
      parts.push(
        `<div class="node-badges" data-node="${esc(n.id())}" style="left:${p.x}px;top:${p.y - (n.height() / 2 + 3) * zoom}px">${badges.map(iconSvg).join('')}</div>`,
      );
    });
    if (shownLabels().security) {
      cy.edges(':visible').forEach((e) => {
        if (!(e.data('mtls') > 0)) return;
        // Over the figure spaces that start the first (centred) line of the label.
        const b = e.renderedBoundingBox({ includeLabels: true, includeNodes: false, includeEdges: false, includeOverlays: false });
        const first = String(e.data('label')).split('\n')[0];
        const left = (b.x1 + b.x2) / 2 - (textWidth(first, e) * zoom) / 2;
        parts.push(`<span data-edge="${esc(e.id())}" style="position:absolute;left:${left + 1}px;top:${b.y1 + 3 * zoom}px">${padlock}</span>`);
      });
    }
    document.getElementById('overlay').innerHTML = parts.join('');
  }
  cy.on('render viewport', () => requestAnimationFrame(drawOverlay));

  /** The badge rows as boxes in graph units (the label placement keeps edge labels off them). */
  function badgeBoxes() {
    const boxes = [];
    cy.nodes(':visible').forEach((n) => {
      const count = ((state.badges && state.badges.get(n.id())) || []).length;
      if (count === 0 || n.isParent()) return;
      const p = n.position();
      const w = count * 20;
      const bottom = p.y - n.height() / 2 - 3;
      boxes.push({ x1: p.x - w / 2, x2: p.x + w / 2, y1: bottom - 20, y2: bottom });
    });
    return boxes;
  }

  function renderShares(shares) {
    document.getElementById('shares').innerHTML = shares
      .filter((s) => Object.keys(s.versions).length > 0)
      .map((share) => {
        const versions = Object.entries(share.versions).sort();
        const bar = versions.map(([v, p]) => `<span style="width:${p}%;background:${versionColor(v)}">${esc(v)} ${p}%</span>`).join('');
        return `<div class="share" data-service="${esc(share.service)}"><div class="share-title">${esc(share.service)}: ${versions.map(([v, p]) => `${esc(v)} ${p}%`).join(' / ')}</div><div class="bar">${bar}</div></div>`;
      })
      .join('');
  }

  function draw(graph, relayoutAnyway) {
    const elements = elementsOf(graph);
    const key =
      elements
        .map((el) => el.data.id)
        .sort()
        .join('|') + `|${document.getElementById('idle').checked}`;
    cy.batch(() => {
      const ids = new Set(elements.map((el) => el.data.id));
      cy.elements()
        .filter((el) => !ids.has(el.id()))
        .remove();
      for (const el of elements) {
        const existing = cy.getElementById(el.data.id);
        if (existing.nonempty()) existing.data(el.data);
        else cy.add(el.group === 'edges' ? { ...el, data: { ...el.data, dx: 0, dy: 0 } } : el);
      }
      markIdle();
    });
    state.badges = new Map(graph.nodes.map((n) => [n.id, n.badges || []]));
    const relayout = relayoutAnyway || key !== state.layoutKey;
    if (relayout) {
      state.layoutKey = key;
      layout();
    }
    placeLabels(cy, badgeBoxes());
    if (relayout) fitView();
    drawOverlay();
    document.getElementById('canvas').dataset.ready = 'true';
  }

  async function refresh() {
    try {
      const graph = await (await fetch('/graph.json')).json();
      state.graph = graph;
      draw(graph, false);
      renderShares(graph.versionShares);
      if (state.selected) showDetails(cy.getElementById(state.selected));
      const idle = cy.nodes('.idle').length;
      document.getElementById('status').textContent =
        `last ${graph.windowSeconds}s · updated ${new Date(graph.timestamp).toLocaleTimeString()}${idle ? ` · ${idle} idle hidden` : ''}`;
    } catch (error) {
      document.getElementById('status').textContent = `mesh not reachable: ${error.message}`;
    }
  }

  // ------------------------------------------------------------------ details panel

  const appOf = (node) => node.data('app') || node.data('name');
  const row = (name, value) => `<tr><th>${esc(name)}</th><td class="num">${esc(value)}</td></tr>`;
  function codesTable(codes, total) {
    const entries = Object.entries(codes || {}).sort();
    if (entries.length === 0) return '';
    return `<table data-test="codes"><tr><th>code</th><th>requests</th><th>%</th></tr>${entries.map(([code, n]) => `<tr><td>${esc(code === '0' ? '0 (no answer)' : code)}</td><td class="num">${n}</td><td class="num">${total ? ((n / total) * 100).toFixed(1) : '0'}</td></tr>`).join('')}</table>`;
  }

  function edgeDetails(edge) {
    const e = state.graph.edges.find((x) => x.id === edge.id());
    if (!e) return '';
    const [from, to] = [appOf(edge.source()), appOf(edge.target())];
    const traces = `/traces?${from === to ? '' : `from=${encodeURIComponent(from)}&`}to=${encodeURIComponent(to)}`;
    const head = `<h2>${esc(edge.source().data('label'))} → ${esc(edge.target().data('label'))}</h2>`;
    if (e.protocol === 'tcp') {
      const t = e.tcp || { sentBytesPerSecond: 0, receivedBytesPerSecond: 0, opened: 0, closed: 0 };
      return `${head}<table>${row('protocol', 'TCP')}${row('sent', bytesPerSecond(t.sentBytesPerSecond))}${row('received', bytesPerSecond(t.receivedBytesPerSecond))}${row('connections opened', t.opened)}${row('connections closed', t.closed)}</table>`;
    }
    const flags = Object.entries(e.responseFlags || {})
      .map(([f, n]) => `${f} ${n}`)
      .join(', ');
    return `${head}<table>${row('requests/s', e.rate.toFixed(2))}${row("% of caller's requests", `${e.httpPercentReq}%`)}${row('errors', `${e.errorPercent}%`)}${row('mTLS', `${e.mtlsPercent}%`)}${row('p50 / p95 / p99', `${ms(e.p50)} / ${ms(e.p95)} / ${ms(e.p99)}`)}${flags ? row('response flags', flags) : ''}</table>${codesTable(e.responseCodes, e.requests)}<a data-test="edge-traces" href="${traces}">Traces of this edge</a>`;
  }

  function nodeDetails(node) {
    const n = state.graph.nodes.find((x) => x.id === node.id());
    if (!n) return `<h2>${esc(node.data('label'))}</h2>`;
    const incoming = state.graph.edges.filter((e) => e.target === n.id && e.protocol !== 'tcp');
    const outgoing = state.graph.edges.filter((e) => e.source === n.id && e.protocol !== 'tcp');
    const sum = (edges) => edges.reduce((a, e) => a + e.rate, 0);
    const codes = {};
    let requests = 0;
    for (const e of incoming) {
      requests += e.requests;
      for (const [c, k] of Object.entries(e.responseCodes || {})) codes[c] = (codes[c] || 0) + k;
    }
    const app = n.app || n.name;
    return `<h2>${esc(nodeLabel(n))}</h2><table>${row('kind', n.nodeType)}${n.app ? row('app', n.app) : ''}${n.version ? row('version', n.version) : ''}${n.replicas ? row('replicas ready', `${n.replicas.ready}/${n.replicas.total}`) : ''}${row('requests/s in', sum(incoming).toFixed(2))}${row('requests/s out', sum(outgoing).toFixed(2))}${(n.badges || []).length ? row('Istio config', n.badges.map((b) => (badgeIcons[b] || { title: b }).title).join(', ')) : ''}</table>${codesTable(codes, requests)}<a data-test="node-traces" href="/traces?service=${encodeURIComponent(app)}">Traces through ${esc(app)}</a>`;
  }

  function showDetails(target) {
    const panel = document.getElementById('panel');
    if (!target || target.empty() || target.isParent?.()) {
      panel.hidden = true;
      state.selected = '';
      return;
    }
    state.selected = target.id();
    panel.innerHTML = `<button type="button" class="close" aria-label="close">×</button>${target.isEdge() ? edgeDetails(target) : nodeDetails(target)}`;
    panel.querySelector('.close').addEventListener('click', () => {
      cy.elements().unselect();
      showDetails(undefined);
    });
    const wasHidden = panel.hidden;
    panel.hidden = false;
    if (wasHidden) {
      cy.resize();
      drawOverlay();
    }
  }
  cy.on('tap', 'node, edge', (event) => showDetails(event.target));
  cy.on('tap', (event) => {
    if (event.target === cy) showDetails(undefined);
  });

  for (const input of document.querySelectorAll('.controls input, .controls select')) {
    input.addEventListener('change', () => {
      if (state.graph) draw(state.graph, input.id === 'idle');
    });
  }
  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => state.graph && draw(state.graph, true), 150);
  });
  refresh();
  setInterval(refresh, 2000);
})();
