/**
 * Envoy's weighted clusters (`source/common/router/config_impl.cc`, `WeightedClustersConfig`): one draw in
 * [0, total) walks the destinations in order. A lone destination takes everything without a draw; a 0 weight takes
 * nothing; no positive weight at all: none.
 */
export function pickWeighted<T extends { weight: number }>(destinations: readonly T[], totalWeight: number, random: () => number): T | undefined {
  if (destinations.length === 1) return destinations[0];
  if (totalWeight <= 0) return undefined;
  let draw = random() * totalWeight;
  for (const destination of destinations) {
    if (destination.weight <= 0) continue;
    if (draw < destination.weight) return destination;
    draw -= destination.weight;
  }
  return destinations.findLast((d) => d.weight > 0);
}
