// The graph page's texts and label placement: what an edge and a node say, and where each edge label goes so that
// it sits on no node, no other label and, as far as it can, on no other edge.
(function () {
  const fixed = (n, digits = 1) => (Number.isInteger(n) ? String(n) : n.toFixed(digits));
  const ms = (n) => `${n >= 10 ? Math.round(n) : fixed(n)} ms`;

  /** Bytes per second as Kiali shows TCP throughput. */
  function bytesPerSecond(n) {
    if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB/s`;
    if (n >= 1024) return `${(n / 1024).toFixed(1)} KB/s`;
    return `${Math.round(n)} B/s`;
  }

  /** Two short lines: the amount of traffic (and its share), then its quality (time, errors); a padlock for mTLS. */
  function edgeLabel(e, shown, percentile) {
    const first = [];
    const second = [];
    if (e.protocol === 'tcp') {
      const tcp = e.tcp || { bytesPerSecond: 0, opened: 0 };
      if (shown.rate) first.push(bytesPerSecond(tcp.bytesPerSecond));
      if (shown.rate && tcp.opened > 0) first.push(`${tcp.opened} conn`);
    } else {
      if (shown.rate) first.push(`${fixed(e.rate)} rps`);
      if (shown.percent) first.push(`${e.httpPercentReq}%`);
      if (shown.time) second.push(`${percentile} ${ms(e[percentile])}`);
      if (shown.errors && e.errorPercent > 0) second.push(`${e.errorPercent}% err`);
    }
    // Room for the padlock drawn over the start of the (left-aligned) first line: three figure spaces.
    const lock = shown.security && e.mtlsPercent > 0 ? '\u2007\u2007\u2007' : '';
    return (
      [first.join(' · '), second.join(' · ')]
        .filter(Boolean)
        .map((line, i) => (i === 0 ? lock + line : line))
        .join('\n') || lock
    );
  }

  function nodeLabel(n) {
    // The ingress gateway is a workload without a version label: shown by name, as Kiali does.
    const versioned = n.nodeType === 'workload' && n.version && n.version !== 'unknown';
    const head = versioned ? `${n.app} ${n.version}` : n.name;
    // Ready/total only when some replica is not ready (the node is then also ringed red): short labels fit a phone.
    const replicas = n.replicas && n.replicas.ready < n.replicas.total ? ` (${n.replicas.ready}/${n.replicas.total})` : '';
    return head + replicas;
  }

  const overlapArea = (a, b) => Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1)) * Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));

  /** Whether the segment p→q passes through the box (Liang–Barsky clipping). */
  function crosses(p, q, box) {
    let t0 = 0;
    let t1 = 1;
    const d = { x: q.x - p.x, y: q.y - p.y };
    for (const [num, den] of [
      [p.x - box.x1, -d.x],
      [box.x2 - p.x, d.x],
      [p.y - box.y1, -d.y],
      [box.y2 - p.y, d.y],
    ]) {
      if (den === 0) {
        if (num < 0) return false;
        continue;
      }
      const t = num / den;
      if (den < 0) {
        if (t > t1) return false;
        if (t > t0) t0 = t;
      } else {
        if (t < t0) return false;
        if (t < t1) t1 = t;
      }
    }
    return true;
  }

  /**
   * Puts every visible edge label where it overlaps no node, node label, badge row or other edge label, and
   * crosses as few other edges as it can: candidates along its own edge (middle first), then beside it; greedy, in
   * a fixed order so that labels do not jump between refreshes. Written as the edge's text-margin (dx, dy).
   */
  function placeLabels(cy, badgeBoxes) {
    const gap = 4;
    const taken = [...badgeBoxes];
    cy.nodes(':visible').forEach((n) => {
      if (n.isParent()) return;
      taken.push(n.boundingBox({ includeLabels: true, includeOverlays: false }));
    });
    const edges = cy
      .edges(':visible')
      .toArray()
      .sort((a, b) => a.id().localeCompare(b.id()));
    const lines = edges.map((e) => ({ edge: e, p: e.sourceEndpoint(), q: e.targetEndpoint() }));
    for (const edge of edges) {
      const box = edge.boundingBox({ includeLabels: true, includeNodes: false, includeEdges: false, includeOverlays: false });
      const w = box.x2 - box.x1 + 2 * gap;
      const h = box.y2 - box.y1 + 2 * gap;
      const s = edge.sourceEndpoint();
      const t = edge.targetEndpoint();
      const mid = { x: (box.x1 + box.x2) / 2 - edge.data('dx'), y: (box.y1 + box.y2) / 2 - edge.data('dy') };
      const vertical = Math.abs(t.y - s.y) > Math.abs(t.x - s.x);
      let best;
      const consider = (c) => {
        const rect = { x1: c.x - w / 2, x2: c.x + w / 2, y1: c.y - h / 2, y2: c.y + h / 2 };
        // Overlaps first (they hide text), then crossed lines (they strike through it); earlier candidates win ties.
        const overlap = taken.reduce((sum, other) => sum + overlapArea(rect, other), 0);
        const crossings = lines.filter((l) => l.edge !== edge && crosses(l.p, l.q, rect)).length;
        if (!best || overlap < best.overlap || (overlap === best.overlap && crossings < best.crossings)) best = { c, rect, overlap, crossings };
      };
      const along = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78];
      for (const shift of [0, -0.5, 0.5, -1, 1, -1.5, 1.5]) {
        for (const f of along) consider({ x: s.x + (t.x - s.x) * f + (vertical ? shift * w : 0), y: s.y + (t.y - s.y) * f + (vertical ? 0 : shift * h) });
      }
      // A crowded graph (a phone's narrow canvas) can leave no free spot beside the edge: look further out, on both
      // axes, before settling for a label that covers something.
      for (let reach = 2; best.overlap > 0 && reach <= 5; reach += 0.5) {
        for (const f of along) {
          const base = { x: s.x + (t.x - s.x) * f, y: s.y + (t.y - s.y) * f };
          for (const [dx, dy] of [
            [0, -reach * h],
            [0, reach * h],
            [-reach * w, 0],
            [reach * w, 0],
          ]) {
            consider({ x: base.x + dx / 2, y: base.y + dy / 2 });
            consider({ x: base.x + dx, y: base.y + dy });
          }
        }
      }
      edge.data({ dx: best.c.x - mid.x, dy: best.c.y - mid.y });
      taken.push(best.rect);
    }
  }

  window.graphLabels = { edgeLabel, nodeLabel, placeLabels, bytesPerSecond, ms };
})();
