import { appPaths, DEFAULT_APP_PATHS, gatewayAddress, httpRouteAppPaths, isMinikube, urlLines, type NodeLike, type ServiceLike } from './urls';

const minikubeNode: NodeLike = {
  metadata: { name: 'minikube', labels: { 'minikube.k8s.io/name': 'minikube' } },
  status: {
    addresses: [
      { type: 'InternalIP', address: '192.168.49.2' },
      { type: 'Hostname', address: 'minikube' },
    ],
  },
};

/** istio-ingressgateway as the demo profile installs it: LoadBalancer, port http2 80 → nodePort. */
function gatewayService(ingress?: Array<{ ip?: string; hostname?: string }>): ServiceLike {
  return {
    spec: {
      type: 'LoadBalancer',
      ports: [
        { name: 'status-port', port: 15021, nodePort: 31021 },
        { name: 'http2', port: 80, nodePort: 31380 },
        { name: 'https', port: 443, nodePort: 31390 },
      ],
    },
    status: { loadBalancer: { ingress } },
  };
}

describe('gatewayAddress', () => {
  it('Minikube without a tunnel: node InternalIP + the http2 nodePort', () => {
    expect(gatewayAddress(gatewayService(), [minikubeNode])).toEqual({
      url: 'http://192.168.49.2:31380',
      note: 'node minikube InternalIP + nodePort 31380 of port http2',
      via: 'nodePort',
    });
  });

  it('prefers a node ExternalIP over an InternalIP', () => {
    const node: NodeLike = {
      status: {
        addresses: [
          { type: 'InternalIP', address: '10.0.0.5' },
          { type: 'ExternalIP', address: '203.0.113.7' },
        ],
      },
    };
    expect(gatewayAddress(gatewayService(), [node]).url).toBe('http://203.0.113.7:31380');
  });

  it('a LoadBalancer address (minikube tunnel) wins, port 80 left out', () => {
    // On Linux `minikube tunnel` sets the EXTERNAL-IP to the Service's cluster IP; with the docker driver on macOS 127.0.0.1.
    expect(gatewayAddress(gatewayService([{ ip: '10.98.12.34' }]), [minikubeNode])).toEqual({
      url: 'http://10.98.12.34',
      note: 'LoadBalancer address 10.98.12.34 (EXTERNAL-IP of istio-system/istio-ingressgateway), port 80',
      via: 'loadBalancer',
    });
    expect(gatewayAddress(gatewayService([{ ip: '127.0.0.1' }]), [minikubeNode]).url).toBe('http://127.0.0.1');
    expect(gatewayAddress(gatewayService([{ hostname: 'lb.example.com' }]), []).url).toBe('http://lb.example.com');
  });

  it('no nodePort and no LoadBalancer address: a minikube tunnel hint instead of a URL', () => {
    const service: ServiceLike = { spec: { type: 'LoadBalancer', ports: [{ name: 'http2', port: 80 }] } };
    const result = gatewayAddress(service, [minikubeNode]);
    expect(result.url).toBeUndefined();
    expect(result.note).toMatch(/minikube tunnel/);
  });

  it('no node address: says which nodePort to use', () => {
    expect(gatewayAddress(gatewayService(), [])).toEqual({ note: 'no node has an address; the gateway listens on nodePort 31380' });
  });

  it('a Service without an http port', () => {
    expect(gatewayAddress({ spec: { ports: [{ name: 'tls', port: 443 }] } }, [minikubeNode]).url).toBeUndefined();
  });

  it('brackets an IPv6 node address', () => {
    const node: NodeLike = { status: { addresses: [{ type: 'InternalIP', address: 'fd00::2' }] } };
    expect(gatewayAddress(gatewayService(), [node]).url).toBe('http://[fd00::2]:31380');
  });
});

describe('isMinikube', () => {
  it('by context name or node labels', () => {
    expect(isMinikube('minikube', [])).toBe(true);
    expect(isMinikube('demo', [minikubeNode])).toBe(true);
    expect(isMinikube('kind-kind', [{ metadata: { labels: { 'kubernetes.io/hostname': 'kind' } } }])).toBe(false);
  });
});

describe('appPaths / urlLines', () => {
  it('takes the paths from the VirtualService routes', () => {
    const vs = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'web-ingress' },
      spec: {
        hosts: ['*'],
        http: [{ match: [{ uri: { prefix: '/openapi/ui' } }, { uri: { exact: '/openapi' } }] }, { match: [{ uri: { prefix: '/api/getmultiple' } }] }],
      },
    };
    expect(appPaths(vs)).toEqual({ getMultiple: '/api/getmultiple', swaggerUi: '/openapi/ui' });
    expect(appPaths(undefined)).toEqual(DEFAULT_APP_PATHS);
  });

  it('prints the app, the curl command and Swagger UI', () => {
    expect(urlLines('http://192.168.49.2:31380/', DEFAULT_APP_PATHS)).toEqual([
      'Web app:      http://192.168.49.2:31380/',
      'getmultiple:  curl -s http://192.168.49.2:31380/web-api/v1/getmultiple',
      'Swagger UI:   http://192.168.49.2:31380/openapi/ui',
    ]);
  });
});

describe('httpRouteAppPaths (Gateway API mode)', () => {
  const route = (paths: Array<{ type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string }>) =>
    ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web-ingress' },
      spec: { rules: paths.map((path) => ({ matches: [{ path }] })) },
    }) as Parameters<typeof httpRouteAppPaths>[0];

  it('takes the paths from the rules’ Exact and PathPrefix matches', () => {
    expect(
      httpRouteAppPaths(
        route([
          { type: 'PathPrefix', value: '/docs/openapi/ui' },
          { type: 'Exact', value: '/api/v1/getmultiple' },
        ]),
      ),
    ).toEqual({ getMultiple: '/api/v1/getmultiple', swaggerUi: '/docs/openapi/ui' });
  });

  it('a regular expression is no path; no route gives the defaults', () => {
    expect(httpRouteAppPaths(route([{ type: 'RegularExpression', value: '/web-api/v[0-9]/getmultiple' }]))).toEqual(DEFAULT_APP_PATHS);
    expect(httpRouteAppPaths(undefined)).toEqual(DEFAULT_APP_PATHS);
  });
});
