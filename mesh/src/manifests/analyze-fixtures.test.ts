/**
 * Every check of the analysis fires on a broken fixture (mesh/test/fixtures/manifests), reported with the
 * fixture's file, the object and a reason. Each fixture is applied on top of the repository's base set, as a user
 * applying that file to a cluster would, so the fixtures stay small.
 */
import { FINDING_CODES } from './analyze';
import { analyzeFixture, lineContaining } from './analyze-fixture';

// The first analysis in a process compiles the Istio schemas (seconds on a busy 2-core machine).
jest.setTimeout(60_000);

interface Case {
  fixture: string;
  code: keyof typeof FINDING_CODES;
  object?: string;
  message: RegExp;
  /** text on the line the finding must point at */
  at?: string;
  alone?: boolean;
}

const cases: Case[] = [
  { fixture: 'yaml-syntax.yaml', code: 'CNS0001', message: /^YAML syntax error: /, at: 'name: broken' },
  { fixture: 'not-an-object.yaml', code: 'CNS0002', message: /^object has no kind$/, at: 'apiVersion: v1' },
  { fixture: 'duplicate-object.yaml', code: 'CNS0004', object: 'ServiceAccount/extra', message: /already defined in .*duplicate-object\.yaml:2/, alone: true },
  {
    fixture: 'schema-deployment.yaml',
    code: 'IST0106',
    object: 'Deployment/articles',
    message: /^spec\.template\.spec\.containers\[0\]\.ports\[0\]\.containerPort: must be integer$/,
    at: 'containerPort: eighty',
  },
  { fixture: 'schema-virtualservice.yaml', code: 'IST0106', object: 'VirtualService/authors', message: /^spec\.hosts: must be array$/, at: 'hosts: authors' },
  {
    fixture: 'vs-unknown-fields.yaml',
    code: 'CNS0005',
    object: 'VirtualService/authors',
    message: /^spec\.gateway: unknown field, did you mean gateways\?/,
    at: 'gateway: [mesh]',
  },
  {
    fixture: 'vs-unknown-fields.yaml',
    code: 'CNS0005',
    object: 'VirtualService/authors',
    message: /^spec\.http\[0\]\.retrie: unknown field, did you mean retries\?/,
    at: '- retrie:',
  },
  {
    fixture: 'vs-destination-host-missing.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /spec\.http\[0\]\.route\[0\]\.destination\.host: required field is missing/,
    at: 'destination:',
  },
  { fixture: 'vs-host-not-found.yaml', code: 'KIA1101', object: 'VirtualService/authors', message: /host not found\): author$/, at: 'host: author' },
  {
    fixture: 'vs-gateway-not-found.yaml',
    code: 'KIA1102',
    object: 'VirtualService/web-ingress',
    message: /non-existent gateway: web-gateway-typo/,
    at: 'web-gateway-typo',
  },
  {
    fixture: 'vs-subset-not-found.yaml',
    code: 'KIA1107',
    object: 'VirtualService/web-api',
    message: /Subset not found: v3 of host web-api .*known: v1, v2/,
    at: 'subset: v3',
  },
  {
    fixture: 'vs-host-not-in-gateway.yaml',
    code: 'IST0132',
    object: 'VirtualService/blog',
    message: /host \[blog\.example\.com\] .* not found in Gateway shop-gateway/,
  },
  {
    fixture: 'vs-unreachable-rule.yaml',
    code: 'IST0130',
    object: 'VirtualService/web-ingress',
    message: /rule #1 not used .*rule #0/,
    at: '- name: getmultiple',
  },
  { fixture: 'vs-catch-all-prefix.yaml', code: 'IST0131', object: 'VirtualService/web-ingress', message: /rule #1 match #0 is not used .*rule #0/ },
  { fixture: 'vs-ineffective-match.yaml', code: 'IST0131', object: 'VirtualService/web-ingress', message: /rule #1 match #0 is not used .*rule #0/ },
  { fixture: 'vs-negative-weight.yaml', code: 'IST0106', object: 'VirtualService/web-api', message: /^weight -20 < 0$/, at: 'weight: -20' },
  { fixture: 'vs-zero-weight.yaml', code: 'IST0106', object: 'VirtualService/web-api', message: /^total destination weight = 0$/ },
  {
    fixture: 'vs-repeated-destination.yaml',
    code: 'KIA1105',
    object: 'VirtualService/web-api',
    message: /already referenced in another route destination: web-api subset v1/,
  },
  {
    fixture: 'vs-destination-port.yaml',
    code: 'CNS0105',
    object: 'VirtualService/authors',
    message: /port 8080 is not a port of Service authors \(ports: 3000\)/,
    at: 'number: 8080',
  },
  { fixture: 'vs-route-and-redirect.yaml', code: 'IST0106', object: 'VirtualService/authors', message: /HTTP route cannot contain both route and redirect/ },
  {
    fixture: 'vs-cors-redirect.yaml',
    code: 'CNS0114',
    object: 'VirtualService/authors',
    message: /redirect code 305 is accepted but istiod cannot translate it/,
    at: 'redirectCode: 305',
  },
  {
    fixture: 'vs-cors-redirect.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /invalid redirect scheme, must be "http" or "https"/,
    at: 'scheme: ftp',
  },
  { fixture: 'vs-cors-redirect.yaml', code: 'IST0106', object: 'VirtualService/authors', message: /redirect must specify URI, authority, scheme, or port/ },
  {
    fixture: 'vs-cors-redirect.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /^'' is not a valid match type for CORS allow origins$/,
    at: 'exact: ""',
  },
  { fixture: 'vs-cors-redirect.yaml', code: 'IST0106', object: 'VirtualService/authors', message: /"FETCH" is not a supported HTTP method/, at: 'FETCH' },
  {
    fixture: 'vs-cors-redirect.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /header name x token is not a valid header name/,
    at: 'x token',
  },
  {
    fixture: 'vs-cors-redirect.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /max_age duration is accurate only to seconds precision/,
    at: 'maxAge: 1500ms',
  },
  {
    fixture: 'vs-fault-empty.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /HTTP fault injection must have an abort and\/or a delay/,
    at: 'fault: {}',
  },
  {
    fixture: 'vs-fault-out-of-range.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /percentage must be in range \[0, 100\], got 150/,
    at: 'value: 150',
  },
  { fixture: 'vs-fault-out-of-range.yaml', code: 'IST0106', object: 'VirtualService/authors', message: /httpStatus must be in range \[200, 599\], got 700/ },
  {
    fixture: 'vs-bad-durations.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /timeout: invalid duration "1 second"/,
    at: 'timeout: 1 second',
  },
  { fixture: 'vs-bad-durations.yaml', code: 'IST0106', object: 'VirtualService/authors', message: /perTryTimeout: must be string/ },
  { fixture: 'vs-bad-durations.yaml', code: 'IST0106', object: 'VirtualService/authors', message: /unknown retry policy sometimes/ },
  {
    fixture: 'vs-invalid-regex.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /^"uri": error parsing regexp: invalid or unsupported Perl syntax: .*Istio uses RE2/,
    at: 'regex: /api/(?=v1)',
  },
  {
    fixture: 'vs-invalid-regex.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /^"headers": error parsing regexp: missing closing \)/,
    at: 'regex: (alice',
  },
  {
    fixture: 'vs-invalid-regex.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /^"headers": prefix string match should not be empty$/,
    at: 'prefix: ""',
  },
  {
    fixture: 'vs-invalid-regex.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /"HTTPRewrite\.UriRegexRewrite\.Match": error parsing regexp/,
    at: 'match: ^/old/(.*',
  },
  {
    fixture: 'vs-answer-conflicts.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /HTTP route cannot contain both fault and redirect/,
    at: 'fault:',
  },
  {
    fixture: 'vs-answer-conflicts.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /HTTP route cannot contain both rewrite and directResponse/,
    at: '- rewrite:',
  },
  {
    fixture: 'vs-duration-limits.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /^spec\.http\[0\]\.timeout: duration must be greater than 1ms/,
    at: 'timeout: 500us',
  },
  {
    fixture: 'vs-duration-limits.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /perTryTimeout: only durations to ms precision are supported/,
    at: 'perTryTimeout: 1.5ms',
  },
  {
    fixture: 'vs-duration-limits.yaml',
    code: 'IST0106',
    object: 'VirtualService/authors',
    message: /http retry policy configured when attempts are set to 0/,
    at: 'retries:',
  },
  { fixture: 'vs-mirror-percentage.yaml', code: 'IST0106', object: 'VirtualService/web-api', message: /mirror percentage must have a max value of 100/ },
  {
    fixture: 'vs-two-for-one-host.yaml',
    code: 'IST0109',
    object: 'VirtualService/authors-canary',
    message:
      /^The VirtualServices default\/authors-canary,default\/authors associated with mesh gateway define the same host authors\.default: a sidecar uses only VirtualService\/authors-canary /,
  },
  {
    fixture: 'vs-two-for-one-gateway-host.yaml',
    code: 'KIA1106',
    object: 'VirtualService/web-ingress-admin',
    message: /^More than one Virtual Service for same host: \* on default\/web-gateway \(also VirtualService\/web-ingress\)/,
  },
  {
    fixture: 'dr-subset-no-pods.yaml',
    code: 'IST0173',
    object: 'DestinationRule/web-api',
    message: /Subset v3 .* does not select any pods/,
    at: 'labels: {version: v3}',
  },
  { fixture: 'dr-duplicate-subset.yaml', code: 'IST0106', object: 'DestinationRule/web-api', message: /^duplicate subset names: v1$/ },
  { fixture: 'dr-subset-without-labels.yaml', code: 'KIA0209', object: 'DestinationRule/web-api', message: /subset all selects every pod/ },
  { fixture: 'dr-host-not-found.yaml', code: 'KIA0202', object: 'DestinationRule/reviews', message: /no matching entry in the service registry .*: reviews/ },
  {
    fixture: 'dr-two-for-one-subset.yaml',
    code: 'KIA0201',
    object: 'DestinationRule/web-api-canary',
    message: /same host subset combination: web-api\.default subset v2/,
  },
  { fixture: 'dr-bad-outlier.yaml', code: 'IST0106', object: 'DestinationRule/web-api', message: /interval: invalid duration "often"/ },
  { fixture: 'dr-bad-outlier.yaml', code: 'IST0106', object: 'DestinationRule/web-api', message: /maxEjectionPercent must be in range \[0, 100\], got 150/ },
  {
    fixture: 'service-port-name.yaml',
    code: 'IST0118',
    object: 'Service/articles',
    message: /Port name web \(port: 8080, targetPort: http\) doesn't follow the naming convention/,
  },
  { fixture: 'service-selector-no-match.yaml', code: 'CNS0102', object: 'Service/articles', message: /selector app=article matches no Deployment/ },
  {
    fixture: 'service-target-port.yaml',
    code: 'KIA0701',
    object: 'Service/articles',
    message: /no container of articles has a port named metrics/,
    at: 'targetPort: metrics',
  },
  {
    fixture: 'deployment-selector-mismatch.yaml',
    code: 'CNS0101',
    object: 'Deployment/authors',
    message: /selector wants version=v2, the template has version=v1/,
  },
  { fixture: 'deployment-references.yaml', code: 'CNS0103', object: 'Deployment/authors', message: /serviceAccountName authors-sa names no ServiceAccount/ },
  { fixture: 'deployment-references.yaml', code: 'CNS0104', object: 'Deployment/authors', message: /readinessProbe uses port health/, at: 'port: health' },
  {
    fixture: 'deployment-not-hardened.yaml',
    code: 'CNS0108',
    object: 'Deployment/authors',
    message:
      /^container authors securityContext lacks runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities\.drop: \[ALL\]$/,
  },
  {
    fixture: 'deployment-not-hardened.yaml',
    code: 'CNS0109',
    object: 'Deployment/authors',
    message: /^container authors has no resources\.requests or resources\.limits$/,
  },
  {
    fixture: 'deployment-not-hardened.yaml',
    code: 'CNS0110',
    object: 'Deployment/authors',
    message: /^container authors has no livenessProbe and no readinessProbe$/,
    at: '- name: authors',
  },
  {
    fixture: 'deployment-version-labels.yaml',
    code: 'CNS0111',
    object: 'Deployment/authors',
    message: /^pod labels version=v1 and app\.kubernetes\.io\/version=1 differ: Istio telemetry and Kiali report 1 /,
    at: 'app.kubernetes.io/version: "1"',
  },
  {
    fixture: 'statefulset-references.yaml',
    code: 'CNS0112',
    object: 'StatefulSet/postgres',
    message:
      /^container postgres env POSTGRES_PASSWORD names key passwd, which Secret postgres-credentials does not have \(keys: username, password, database\)/,
  },
  {
    fixture: 'statefulset-references.yaml',
    code: 'CNS0112',
    object: 'StatefulSet/postgres',
    message: /env POSTGRES_USER names Secret pg-credentials, which is not in the manifests: the pod would not start$/,
  },
  {
    fixture: 'statefulset-references.yaml',
    code: 'CNS0113',
    object: 'StatefulSet/postgres',
    message: /^serviceName pg names no Service/,
    at: 'serviceName: pg',
  },
  {
    fixture: 'authorizationpolicy-references.yaml',
    code: 'CNS0106',
    object: 'AuthorizationPolicy/articles',
    message: /selector app=article matches no workload/,
  },
  {
    fixture: 'authorizationpolicy-references.yaml',
    code: 'CNS0107',
    object: 'AuthorizationPolicy/articles',
    message: /ServiceAccount webapi, which no manifest defines/,
  },
  {
    fixture: 'gwapi-schema.yaml',
    code: 'CNS0301',
    object: 'HTTPRoute/shop',
    message: /^spec\.rules\[0\]\.matches\[0\]\.path\.type: Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", "RegularExpression"$/,
    at: 'type: Prefix',
  },
  {
    fixture: 'gwapi-cel.yaml',
    code: 'CNS0302',
    object: 'HTTPRoute/shop',
    message: /^spec\.rules\[0\]: Invalid value: "object": RequestRedirect filter must not be used together with backendRefs$/,
  },
  {
    fixture: 'gwapi-cel.yaml',
    code: 'CNS0302',
    object: 'HTTPRoute/shop',
    message: /^spec\.rules\[1\]\.matches\[0\]\.path: Invalid value: "object": must not contain '\/\/'/,
    at: '- path:',
  },
  { fixture: 'gwapi-vs-overlap.yaml', code: 'CNS0303', object: 'HTTPRoute/shop', message: /routes host \* on port 80, as VirtualService web-ingress/ },
  {
    fixture: 'gwapi-mesh-vs-overlap.yaml',
    code: 'CNS0303',
    object: 'HTTPRoute/authors-route',
    message: /^routes Service authors for the sidecars, as VirtualService authors \(.*gwapi-mesh-vs-overlap\.yaml\) does: a sidecar keeps one/,
    at: '- group: ""',
  },
];

describe('manifest analysis: each check fires on its broken fixture', () => {
  it.each(cases)('$fixture → $code $message', ({ fixture, code, object, message, at, alone }) => {
    const findings = analyzeFixture(fixture, { alone });
    const match = findings.find((f) => f.code === code && message.test(f.message));
    if (!match) throw new Error(`no ${code} matching ${message} in:\n${findings.map((f) => `  ${f.code} ${f.message}`).join('\n')}`);
    if (object) expect(match.object).toBe(object);
    expect(match.severity).toBe(/^CNS0005$|^CNS0303$|^CNS01(08|09|10|11)$|^KIA(1105|1106|0201|0209)$|^IST0109$/.test(code) ? 'warning' : 'error');
    if (at) expect(match.line).toBe(lineContaining(fixture, at));
    expect(match.line).toEqual(expect.any(Number));
  });

  it('covers every finding code with a fixture', () => {
    const dockerCodes = ['CNS0003', 'CNS0201', 'CNS0202', 'CNS0203', 'CNS0204', 'CNS0205', 'CNS0206', 'CNS0207']; // dockerfile.test.ts / analyze-apply.test.ts
    const covered = new Set([...cases.map((c) => c.code), ...dockerCodes]);
    expect(Object.keys(FINDING_CODES).filter((code) => !covered.has(code as keyof typeof FINDING_CODES))).toEqual([]);
  });
});
