import { describeError, istioCoordinates, isIstioObject, statusMessage, type Target } from './kube';
import { UserError } from './errors';

const cluster = { kind: 'cluster', server: 'https://192.168.49.2:8443', contextName: 'minikube' } as Target;
const mesh = { kind: 'mesh', server: 'http://127.0.0.1:15000', contextName: 'local-mesh' } as Target;

/** What @kubernetes/client-node throws for a non-2xx answer (ApiException: code + raw body). */
function apiException(code: number, body: unknown): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ...`), { code, body });
}

/** What node-fetch throws when the connection fails. */
function fetchError(url: string, code: string, detail: string): Error {
  return Object.assign(new Error(`request to ${url} failed, reason: ${detail}`), { code, errno: code, type: 'system' });
}

describe('describeError', () => {
  it('a refused connection to a cluster: URL, cause and a minikube hint in one line', () => {
    const err = describeError(
      fetchError('https://192.168.49.2:8443/version', 'ECONNREFUSED', 'connect ECONNREFUSED 192.168.49.2:8443'),
      cluster,
      'reading the server version',
    );
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe('cannot reach the Kubernetes API at https://192.168.49.2:8443: connect ECONNREFUSED 192.168.49.2:8443 (is minikube running?)');
  });

  it('a refused connection to the mesh points at npm start', () => {
    expect(describeError(fetchError('http://127.0.0.1:15000/apis', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:15000'), mesh, 'x').message).toBe(
      'cannot reach the local mesh at http://127.0.0.1:15000: connect ECONNREFUSED 127.0.0.1:15000 (is the local mesh running? `npm start`)',
    );
  });

  it('a Status body (as text, as the library hands it over) gives its message and the HTTP code', () => {
    const body = JSON.stringify({ kind: 'Status', code: 422, message: 'VirtualService.networking.istio.io "authors" is invalid: KIA1107 subset v9 not found' });
    expect(describeError(apiException(422, body), mesh, 'applying VirtualService authors').message).toBe(
      'applying VirtualService authors: VirtualService.networking.istio.io "authors" is invalid: KIA1107 subset v9 not found (HTTP 422)',
    );
  });

  it('401/403 name the target whose credentials were refused', () => {
    const body = { kind: 'Status', code: 403, message: 'virtualservices.networking.istio.io is forbidden: User "dev" cannot patch' };
    expect(describeError(apiException(403, body), cluster, 'patching VirtualService web-ingress').message).toBe(
      'patching VirtualService web-ingress: the API server refused the credentials of kube context "minikube" (https://192.168.49.2:8443): virtualservices.networking.istio.io is forbidden: User "dev" cannot patch',
    );
  });

  it('a body that is not a Status falls back to the HTTP code, never to the multi-line library message', () => {
    const err = describeError(apiException(502, ''), cluster, 'listing nodes');
    expect(err.message).toBe('listing nodes: HTTP 502');
  });
});

describe('statusMessage', () => {
  it('reads objects, JSON text and plain text', () => {
    expect(statusMessage({ message: 'm' })).toBe('m');
    expect(statusMessage('{"message":"j"}')).toBe('j');
    expect(statusMessage('404 page not found\n')).toBe('404 page not found');
    expect(statusMessage('')).toBeUndefined();
  });
});

describe('Istio kinds', () => {
  it('maps apiVersion + kind to the REST coordinates', () => {
    expect(istioCoordinates('networking.istio.io/v1', 'VirtualService')).toEqual({ group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' });
    expect(istioCoordinates('security.istio.io/v1', 'AuthorizationPolicy').plural).toBe('authorizationpolicies');
    expect(() => istioCoordinates('apps/v1', 'Deployment')).toThrow('apps/v1 Deployment is not an Istio kind the scripts handle');
    expect(isIstioObject({ apiVersion: 'networking.istio.io/v1beta1', kind: 'DestinationRule' })).toBe(true);
    expect(isIstioObject({ apiVersion: 'v1', kind: 'Service' })).toBe(false);
  });
});
