// Services: IST0118 as istioctl's PortNameAnalyzer (pkg/config/analysis/analyzers/service/portname.go), KIA0701 as
// Kiali's PortMappingChecker (business/checkers/services/port_mapping_checker.go), CNS0102 a selector matching no
// workload (a Service without endpoints).

import type { LoadedObject, Service, ServicePort } from '../../model';
import { isPlainObject } from '../load';
import { namespaceOf } from '../merge';
import { asArray, formatLabels, labelsOf, type Index, type Report } from './context';

/** Istio's port naming convention: `<protocol>[-<suffix>]` (used when a port has no `appProtocol`). */
const ISTIO_PORT_NAME = /^(http|http2|https|grpc|grpc-web|h2c|mongo|mysql|redis|tcp|tls|udp)(-.*)?$/i;

export function checkService(loaded: LoadedObject<Service>, index: Index, report: Report): void {
  const spec = loaded.object.spec;
  const namespace = namespaceOf(loaded.object);
  const ports = asArray(spec?.ports).filter(isPlainObject) as unknown as ServicePort[];
  ports.forEach((port, i) => {
    if (!port.appProtocol && !(port.name && ISTIO_PORT_NAME.test(port.name))) {
      report(
        loaded,
        'IST0118',
        `Port name ${port.name ?? '(none)'} (port: ${port.port}, targetPort: ${port.targetPort ?? port.port}) doesn't follow the naming convention of Istio port; name it http or http-<suffix>, or set appProtocol`,
        ['spec', 'ports', i],
      );
    }
  });

  const selector = labelsOf(spec?.selector);
  if (Object.keys(selector).length === 0) return; // no selector: endpoints are managed by hand
  const selected = index.workloadsSelectedBy(selector, namespace);
  if (selected.length === 0) {
    report(loaded, 'CNS0102', `selector ${formatLabels(selector)} matches no Deployment's pod labels`, ['spec', 'selector']);
    return;
  }
  ports.forEach((port, i) => {
    const target = port.targetPort ?? port.port;
    const exposed = selected.some((w) =>
      w.containers.some((c) => asArray(c.ports).some((p) => isPlainObject(p) && (typeof target === 'string' ? p.name === target : p.containerPort === target))),
    );
    if (!exposed) {
      report(
        loaded,
        'KIA0701',
        `Deployment exposing same port as Service not found: no container of ${selected.map((w) => w.loaded.object.metadata.name).join(', ')} has a port ${typeof target === 'string' ? 'named ' : ''}${target}`,
        ['spec', 'ports', i, 'targetPort'],
      );
    }
  });
}
