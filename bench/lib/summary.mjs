// The plain-text summary `npm run bench` prints: the goals table, one row per measured path, and the notes.

export function printSummary(r) {
  const lines = [];
  const pad = (s, n) => String(s ?? '-').padEnd(n);
  lines.push('');
  lines.push(`${pad('#', 2)} ${pad('figure (same-run ratio)', 46)} ${pad('value', 14)} ${pad('goal', 14)} met`);
  for (const g of r.goals)
    lines.push(
      `${pad(g.id, 2)} ${pad(g.figure, 46)} ${pad(g.value, 14)} ${pad(g.goal, 14)} ${g.met === null ? '(info)' : g.met ? 'met' : 'MISSED'}${g.note ? `  (${g.note})` : ''}`,
    );
  lines.push('');
  lines.push(
    `${pad('path', 22)} ${pad('wrk req/s', 10)} ${pad('hey at req/s', 13)} ${pad('p50 ms', 8)} ${pad('p90 ms', 8)} ${pad('p99 ms', 8)} process CPU / RSS`,
  );
  const pathRow = (name, m) =>
    lines.push(
      `${pad(name, 22)} ${pad(Math.round(m.throughput.requestsPerSecond), 10)} ${pad(m.latency?.requestsPerSecond, 13)} ${pad(m.latency?.p50Ms, 8)} ${pad(m.latency?.p90Ms, 8)} ${pad(m.latency?.p99Ms, 8)} ${m.process ? `${m.process.cpuCores} cores / ${m.process.rssMbMax} MB${m.process.cpuMsPerRequest ? ` / ${m.process.cpuMsPerRequest} CPU ms/req` : ''}` : ''}${m.throughput.cpuMsPerRequestByProcess ? ` CPU ms/req ${JSON.stringify(m.throughput.cpuMsPerRequestByProcess)}` : !m.process && m.throughput.cpuMsPerRequest ? ` ${m.throughput.cpuMsPerRequest} CPU ms/req` : ''}`,
    );
  if (r.gateway) {
    pathRow('gateway: direct', r.gateway.direct);
    pathRow('gateway: nginx', r.gateway.nginx);
    pathRow('gateway: bare proxy', r.gateway.bareProxy);
    pathRow('gateway: dataplane', r.gateway.dataplane);
  }
  if (r.services) {
    const sv = r.services;
    for (const name of ['bareExpress', 'articlesCall', 'v1', 'v2', 'floorV1', 'floorV2', 'floorMemV1', 'floorMemV2']) pathRow(`services: ${name}`, sv[name]);
    const f = sv.fanOut.p50Ms;
    lines.push(`fan-out p50 ms (hey -c1): v1 ${f.v1} / articles ${f.articlesV1}; v2 ${f.v2} / articles ${f.articlesV2}`);
    lines.push(`fan-out p50 ms, floor: v1 ${f.floorV1}, v2 ${f.floorV2} (÷ the same articles calls)`);
    lines.push(
      `services: degraded answers ${sv.degradedAnswers.degraded} of ${sv.degradedAnswers.samples} sampled ${JSON.stringify(sv.degradedAnswers.reasons)}`,
    );
  }
  if (r.stack) {
    pathRow('stack: direct', r.stack.direct);
    pathRow('stack: nginx', r.stack.nginx);
    pathRow('stack: bare proxy', r.stack.bareProxy);
    pathRow('stack: mesh', r.stack.mesh);
    const m = r.meshProcess;
    lines.push(
      `mesh process at ${m.achievedRequestsPerSecond} req/s (target ${m.targetRequestsPerSecond}, gateway → web-app): ${m.cpuCores} cores, RSS ${m.rssMbMean}-${m.rssMbMax} MB (idle ${m.rssMbIdle}); during getmultiple at ${m.duringGetmultiple.requestsPerSecond} req/s (${m.duringGetmultiple.proxiedHops} hops, ${m.duringGetmultiple.hopsPerGetmultiple} per getmultiple): ${m.duringGetmultiple.cpuCores} cores`,
    );
    const d = r.stack.degradedAnswers;
    const samples = r.stack.degradedAnswerSamples;
    lines.push(
      `stack: degraded answers direct+nginx ${d.directAndNginx}, bare proxy ${d.bareProxy}, mesh ${d.mesh} (of ${samples.direct.samples + samples.nginx.samples} / ${samples.bareProxy.samples} / ${samples.mesh.samples} sampled)`,
    );
    const b = r.stack.bareProxyCpu;
    lines.push(
      `stack floor: bare proxies ${b.cpuMsPerGetmultiple} CPU ms per getmultiple over ${b.hopsPerGetmultiple} hops (${JSON.stringify(b.cpuMsPerGetmultipleByProcess)}) = ${b.cpuMsPerHopAtFullLoad} ms per hop; mesh ${m.duringGetmultiple.cpuMsPerRequest} over ${m.duringGetmultiple.hopsPerGetmultiple}`,
    );
  }
  const flagged =
    (r.services?.degradedAnswers.degraded ?? 0) +
    (r.stack ? r.stack.degradedAnswers.directAndNginx + r.stack.degradedAnswers.mesh : 0) +
    (r.growth?.degradedAnswers ?? 0);
  if (flagged > 0)
    lines.push(`warning: ${flagged} degraded answers sampled (empty author fields, stale lists or errors): the figures of those sections do not count`);
  if (r.growth) {
    const g = r.growth;
    lines.push(
      `growth p50 ${g.hundredThousand.p50Ms} / ${g.samples.p50Ms} ms over ${g.samples.requests} alternated pairs (by fifths ${g.blockRatiosP50.join(' ')}); articles call alone ${g.articlesCall.hundredThousand.p50Ms} / ${g.articlesCall.samples.p50Ms} ms = ${g.articlesCall.ratioP50} (by fifths ${g.articlesCall.blockRatiosP50.join(' ')})`,
    );
  }
  if (r.webApp) lines.push(`web-app: JS ${r.webApp.jsGzipKb} KB gzip, CSS ${r.webApp.cssGzipKb} KB gzip`);
  lines.push(
    `load average ${r.machine.loadAverageStart.join(' ')} → ${r.machine.loadAverageEnd.join(' ')} on ${r.machine.cpus} cores (shared machine: compare ratios)`,
  );
  process.stdout.write(lines.join('\n') + '\n');
}
