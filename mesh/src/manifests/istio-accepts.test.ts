/**
 * What Istio's API server accepts, the mesh's validation must not refuse (issue 23): the CORS, redirect and
 * AuthorizationPolicy forms the data plane now models, checked against pkg/config/validation/validation.go
 * (validateCORSPolicy, validateAllowOrigins, supportedCORSMethods, ValidateCORSHTTPHeaderName, validateHTTPRedirect)
 * and the CRD schema. Fields newer than the bundled schema package may warn (CNS0005), never refuse.
 */
import path from 'node:path';
import { analyzeManifests, refusedOnApply } from './analyze';
import { loadManifestFiles, parseManifestText } from './load';
import { mergeObjects } from './merge';

const root = path.resolve(__dirname, '../../..');
jest.setTimeout(60_000); // the first analysis compiles the Istio schemas
const base = loadManifestFiles(['k8s', 'istio/base'], { root });

const yaml = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: authors}
spec:
  hosts: [authors]
  http:
  - match: [{uri: {prefix: /old/}}]
    redirect: {prefixRewrite: /new/, redirectCode: 308}
  - match: [{uri: {exact: /moved}}]
    redirect: {authority: example.com, derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {exact: /secure}}]
    redirect: {scheme: https, port: 443}
  - route: [{destination: {host: authors}}]
    corsPolicy:
      allowOrigins: [{exact: "*"}, {regex: "https://.*\\\\.example"}]
      allowMethods: ["*"]
      allowHeaders: ["*"]
      exposeHeaders: [x-request-id]
      maxAge: 24h
      allowCredentials: true
      unmatchedPreflights: IGNORE
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: authors-dry-run
  annotations: {istio.io/dry-run: "true"}
spec:
  selector: {matchLabels: {app: authors}}
  action: DENY
  rules:
  - to: [{operation: {ports: ["3000"], notHosts: ["authors:3000"]}}]
`;

it('accepts them: no finding refuses the apply', () => {
  const { objects } = parseManifestText(yaml, 'inline.yaml');
  const findings = analyzeManifests(mergeObjects(base.objects, objects)).filter((f) => f.file === 'inline.yaml');
  expect(findings.filter(refusedOnApply)).toEqual([]);
  expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  // Fields newer than the bundled schema package but in Istio's CRDs: no "unknown field" warning either.
  expect(findings).toEqual([]);
});

it('takes the fields Istio added after the schema package without an unknown-field warning, and still flags typos', () => {
  const { objects } = parseManifestText(
    [
      'apiVersion: networking.istio.io/v1',
      'kind: VirtualService',
      'metadata: {name: authors}',
      'spec:',
      '  hosts: [authors]',
      '  http:',
      '  - retries: {attempts: 2, retryOn: 5xx, backoff: 50ms}',
      '    mirrors: [{destination: {host: authors}}]',
      '    rewrite: {uriRegexRewrite: {match: "^/a", rewrite: /b}}',
      '    route: [{destination: {host: authors}}]',
      '---',
      'apiVersion: security.istio.io/v1',
      'kind: AuthorizationPolicy',
      'metadata: {name: by-sa}',
      'spec:',
      '  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: web-gateway}]',
      '  rules: [{from: [{source: {serviceAccounts: [web-api], notTrustDomains: [example.org], serviceAcounts: [x]}}]}]',
    ].join('\n'),
    'inline.yaml',
  );
  const findings = analyzeManifests(mergeObjects(base.objects, objects)).filter((f) => f.file === 'inline.yaml');
  expect(findings.map((f) => [f.code, f.message])).toEqual([
    ['CNS0005', expect.stringMatching(/^spec\.rules\[0\]\.from\[0\]\.source\.serviceAcounts: unknown field/)],
  ]);
});
