// The goals table of `npm run bench` (BENCHMARKS.md's goals, each met or missed on this run's figures).

export function goals(r) {
  const rows = [];
  const row = (id, figure, value, goal, met) =>
    rows.push({ id, figure, value, goal, met: met === null ? null : value === null || value === undefined ? false : met });
  const g = r.gateway;
  if (g) {
    row('1', 'gateway throughput ÷ nginx', g.throughputRatio.dataplaneVsNginx, '≥ 0.6', g.throughputRatio.dataplaneVsNginx >= 0.6);
    row(
      '1',
      'gateway added p99 (ms) vs nginx added p99',
      `${g.addedLatencyMs.dataplane.p99} vs ${g.addedLatencyMs.nginx.p99}`,
      '≤ nginx + 0.5',
      g.addedLatencyMs.dataplane.p99 <= g.addedLatencyMs.nginx.p99 + 0.5,
    );
    row('1', 'gateway CPU ms/request (nginx)', `${g.cpuMsPerRequest.dataplane} (${g.cpuMsPerRequest.nginx})`, 'info', null);
    // The floor (bench/bare-proxy.mjs): how much of the gap to nginx is Node's HTTP stack, how much the mesh's code.
    row('1', 'floor: bare Node proxy ÷ nginx', g.throughputRatio.bareProxyVsNginx, 'info', null);
    row('1', 'floor: bare proxy CPU ms/request', g.cpuMsPerRequest.bareProxy, 'info', null);
    row('1', 'floor: bare proxy added p50 / p99 (ms)', `${g.addedLatencyMs.bareProxy.p50} / ${g.addedLatencyMs.bareProxy.p99}`, 'info', null);
    row(
      '1',
      'gateway ÷ bare proxy: req/s (CPU/request)',
      `${g.throughputRatio.dataplaneVsBareProxy} (${g.cpuMsPerRequest.dataplaneVsBareProxy})`,
      'info',
      null,
    );
  }
  const sv = r.services;
  if (sv) {
    const note = sv.degradedAnswers.degraded > 0 ? `${sv.degradedAnswers.degraded} degraded answers` : undefined;
    row('2', 'services: getmultiple v1 ÷ bare Express', sv.throughputRatio.v1VsBareExpress, '≥ 0.15', sv.throughputRatio.v1VsBareExpress >= 0.15);
    row('2', 'services: getmultiple v2 ÷ bare Express', sv.throughputRatio.v2VsBareExpress, '≥ 0.30', sv.throughputRatio.v2VsBareExpress >= 0.3);
    row('2', 'services: articles call ÷ bare Express', sv.throughputRatio.articlesCallVsBareExpress, 'info', null);
    row('3', 'fan-out v1: getmultiple p50 ÷ articles p50', sv.fanOut.ratioP50.v1, '≤ 3.5', sv.fanOut.ratioP50.v1 <= 3.5);
    row('3', 'fan-out v2: getmultiple p50 ÷ articles p50', sv.fanOut.ratioP50.v2, '≤ 2.5', sv.fanOut.ratioP50.v2 <= 2.5);
    // The design's floor (bench/floor-web-api.mjs): what plain Express + node:http reach with the same calls.
    const t = sv.throughputRatio;
    const cpu = sv.cpuMsPerRequest;
    const pair = (a, b) => `${a ?? '-'} / ${b ?? '-'}`;
    row('2', 'floor v1 / v2 ÷ bare Express (real services)', pair(t.floorV1VsBareExpress, t.floorV2VsBareExpress), 'info', null);
    row('2', 'floor v1 / v2 ÷ bare Express (in-memory ups.)', pair(t.floorMemV1VsBareExpress, t.floorMemV2VsBareExpress), 'info', null);
    row('2', 'web-api CPU ms per v1 getmultiple: ours/floor', pair(cpu.v1?.['web-api'], cpu.floorV1?.['web-api']), 'info', null);
    row('2', 'web-api CPU ms per v2 getmultiple: ours/floor', pair(cpu.v2?.['web-api'], cpu.floorV2?.['web-api']), 'info', null);
    row('3', 'floor fan-out v1 / v2 (real services)', pair(sv.fanOut.ratioP50.floorV1, sv.fanOut.ratioP50.floorV2), 'info', null);
    for (const x of rows.filter((x) => x.id === '2' || x.id === '3')) if (note && x.met !== null) Object.assign(x, { met: false, note });
  }
  const s = r.stack;
  if (s) {
    const degraded = s.degradedAnswers.directAndNginx + s.degradedAnswers.mesh + s.degradedAnswers.bareProxy;
    const note = degraded > 0 ? `${degraded} degraded answers during the stack runs` : undefined;
    row('4', 'stack: mesh ÷ nginx-fronted', s.throughputRatio.meshVsNginx, '≥ 0.9', s.throughputRatio.meshVsNginx >= 0.9);
    row('4', 'stack: mesh ÷ direct', s.throughputRatio.meshVsDirect, '≥ 0.8', s.throughputRatio.meshVsDirect >= 0.8);
    // The floor: the same stack with every hop through bench/bare-proxy.mjs (no mesh code).
    row('4', 'floor: bare-proxy stack ÷ direct (÷ nginx)', `${s.throughputRatio.bareProxyVsDirect} (${s.throughputRatio.bareProxyVsNginx})`, 'info', null);
    row('4', 'stack: mesh ÷ bare-proxy stack', s.throughputRatio.meshVsBareProxy, 'info', null);
    for (const x of rows.filter((x) => x.id === '4')) if (note && x.met !== null) Object.assign(x, { met: false, note });
    const m = r.meshProcess;
    row('5', 'mesh CPU ms per proxied hop (full load)', m.duringGetmultiple.cpuMsPerHopAtFullLoad, '≤ 0.15', m.duringGetmultiple.cpuMsPerHopAtFullLoad <= 0.15);
    row('5', 'floor: bare proxy CPU ms per hop (full load)', s.bareProxyCpu.cpuMsPerHopAtFullLoad, 'info', null);
    row('5', 'mesh cores per 1000 proxied req/s', m.cpuCoresPer1000Hops, '≤ 0.2', m.cpuCoresPer1000Hops <= 0.2);
    row('5', 'mesh RSS MB (max under load)', m.rssMbMax, 'ref 60/proxy', null);
  }
  if (r.growth) {
    const note = r.growth.degradedAnswers > 0 ? `${r.growth.degradedAnswers} degraded answers` : undefined;
    row('6', 'growth: 100,000 articles ÷ 14, p50', r.growth.ratioP50, '≤ 1.2', r.growth.ratioP50 <= 1.2);
    if (note) Object.assign(rows.at(-1), { met: false, note });
  }
  if (r.webApp) row('7', 'web-app JS gzip KB', r.webApp.jsGzipKb, '≤ 50', r.webApp.jsGzipKb <= 50);
  return rows;
}
