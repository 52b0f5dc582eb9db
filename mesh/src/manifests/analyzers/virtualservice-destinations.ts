// A VirtualService's destinations: KIA1101 as Kiali's NoHostChecker (business/checkers/virtualservices/no_host_checker.go),
// KIA1107 as its SubsetPresenceChecker (subset_presence_checker.go), KIA1105 as its RouteChecker (route_checker.go),
// weights as Istio's validateHTTPRoute (pkg/config/validation/validation.go), CNS0105 a port the Service lacks.

import type { HTTPRouteDestination, LoadedObject, VirtualService } from '../../model';
import { isPlainObject } from '../load';
import { namespaceOf } from '../merge';
import { SCHEMA_ERROR, formatPath } from '../schema';
import { asArray, type Index, type Report } from './context';

export function checkDestinations(
  loaded: LoadedObject<VirtualService>,
  destinations: HTTPRouteDestination[],
  at: (...rest: Array<string | number>) => Array<string | number>,
  index: Index,
  report: Report,
): void {
  const seen = new Set<string>();
  let total = 0;
  destinations.forEach((routeDestination, d) => {
    const destination = routeDestination.destination;
    checkDestination(loaded, destination, at('route', d, 'destination'), index, report);
    const weight = routeDestination.weight;
    if (typeof weight === 'number') {
      if (weight < 0) report(loaded, SCHEMA_ERROR, `weight ${weight} < 0`, at('route', d, 'weight'));
      else total += weight;
    }
    if (isPlainObject(destination) && typeof destination.host === 'string') {
      const key = `${destination.host}|${destination.subset ?? ''}|${destination.port?.number ?? ''}`;
      if (seen.has(key)) {
        report(
          loaded,
          'KIA1105',
          `This host subset combination is already referenced in another route destination: ${destination.host}${destination.subset ? ` subset ${destination.subset}` : ''}`,
          at('route', d, 'destination'),
          'warning',
        );
      }
      seen.add(key);
    }
  });
  // With one destination a missing or zero weight means "everything"; with several the weights are relative.
  if (destinations.length > 1 && total === 0) {
    report(loaded, SCHEMA_ERROR, 'total destination weight = 0', at('route'));
  }
}

export function checkDestination(
  loaded: LoadedObject<VirtualService>,
  destination: unknown,
  fieldPath: Array<string | number>,
  index: Index,
  report: Report,
): void {
  const namespace = namespaceOf(loaded.object);
  if (!isPlainObject(destination) || typeof destination.host !== 'string' || destination.host === '') {
    report(loaded, SCHEMA_ERROR, `${formatPath([...fieldPath, 'host'])}: required field is missing`, fieldPath);
    return;
  }
  const host = destination.host;
  if (!index.hostExists(host, namespace)) {
    report(loaded, 'KIA1101', `DestinationWeight on route doesn't have a valid service (host not found): ${host}`, [...fieldPath, 'host']);
    return;
  }
  if (typeof destination.subset === 'string') {
    const subsets = index.subsetsFor(host, namespace);
    if (!subsets?.has(destination.subset)) {
      report(
        loaded,
        'KIA1107',
        `Subset not found: ${destination.subset} of host ${host} is defined in no DestinationRule${subsets ? ` (known: ${[...subsets].join(', ') || 'none'})` : ''}: Envoy has no such cluster and answers 503 (flag NC)`,
        [...fieldPath, 'subset'],
      );
    }
  }
  const portNumber = isPlainObject(destination.port) ? destination.port.number : undefined;
  const service = index.serviceFor(host, namespace);
  if (service && typeof portNumber === 'number') {
    const servicePorts = asArray(service.object.spec?.ports).map((p) => (isPlainObject(p) ? p.port : undefined));
    if (!servicePorts.includes(portNumber)) {
      report(loaded, 'CNS0105', `destination port ${portNumber} is not a port of Service ${service.object.metadata.name} (ports: ${servicePorts.join(', ')})`, [
        ...fieldPath,
        'port',
        'number',
      ]);
    }
  }
}
