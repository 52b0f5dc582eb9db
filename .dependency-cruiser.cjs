// The layering rules of the repository (mesh/ARCHITECTURE.md explains them), checked by `npm run lint:deps`.
// Folders named here that do not exist yet (mesh/src/config, mesh/src/telemetry, ...) are named on purpose: a rule
// bites as soon as the folder appears.
const SERVICES = '^(articles|authors|web-api|web-api-v1|web-api-v2|service-kit)/';
const NODE_WORKSPACES = '^(articles|authors|web-api|web-api-v1|web-api-v2|service-kit|mesh|scripts|reliability|test-support|gateway-api)/';
// tsconfig.depcruise.json resolves @cns/NAME to the workspace's sources; an import left unresolved keeps its name.
const MESH = ['^mesh/', '^@cns/mesh($|/)'];
const RUNTIME = '^mesh/src/(runtime|telemetry)/|^mesh/src/(index|cli|postgres|postgres-workload)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order matter and hide which module is the lower layer: cut the cycle.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'model-is-the-bottom',
      severity: 'error',
      comment:
        'mesh/src/model holds the object types and the interfaces between layers (TelemetrySink, RequestRecord): it imports nothing of the mesh outside itself.',
      from: { path: '^mesh/src/model/' },
      to: { path: '^mesh/src/', pathNot: '^mesh/src/model/' },
    },
    {
      name: 'manifests-below-runtime',
      severity: 'error',
      comment:
        "mesh/src/manifests (load, schema, analyzers) is used by the lint CLI and the scripts without a running mesh: it imports the vocabulary, the model and the Gateway API's own validation (gateway-api/analyze, schema, kinds), never a translator, the data plane or the runtime.",
      from: { path: '^mesh/src/manifests/' },
      to: { path: ['^mesh/src/(config|dataplane|gateway-api)/', RUNTIME], pathNot: '^mesh/src/gateway-api/(analyze|schema|kinds)\\.ts$' },
    },
    {
      name: 'vocabulary-is-the-bottom',
      severity: 'error',
      comment: "mesh/src/istio is Istio's vocabulary (kinds, hosts, identities, durations): it imports only mesh/src/model (the object types) and libraries.",
      from: { path: '^mesh/src/istio/' },
      to: { path: '^mesh/src/', pathNot: ['^mesh/src/istio/', '^mesh/src/model/'] },
    },
    {
      name: 'config-not-dataplane',
      severity: 'error',
      comment:
        'The model stage (mesh/src/config) compiles objects into the route model the data plane consumes; it never reaches into the data plane, telemetry or runtime.',
      from: { path: '^mesh/src/config/' },
      to: { path: ['^mesh/src/dataplane/', RUNTIME] },
    },
    {
      name: 'gateway-api-front-end',
      severity: 'error',
      comment: 'mesh/src/gateway-api is a second front end feeding the route model, like mesh/src/config: it never imports telemetry or the runtime.',
      from: { path: '^mesh/src/gateway-api/' },
      to: { path: RUNTIME },
    },
    {
      name: 'dataplane-not-runtime',
      severity: 'error',
      comment:
        'The data plane (mesh/src/dataplane) never imports runtime or telemetry implementations: it emits records through interfaces the model defines, and the runtime wires the implementations in. Type-only imports of interfaces are allowed.',
      from: { path: '^mesh/src/dataplane/' },
      to: { path: RUNTIME, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'telemetry-not-runtime',
      severity: 'error',
      comment: 'Telemetry (mesh/src/telemetry) sits beside the data plane: it does not import the runtime that wires it.',
      from: { path: '^mesh/src/telemetry/' },
      to: { path: '^mesh/src/runtime/|^mesh/src/(index|cli)\\.ts$' },
    },
    {
      name: 'services-not-mesh',
      severity: 'error',
      comment: 'A service runs in a real cluster without the local mesh; its tests take what they need from @cns/test-support.',
      from: { path: SERVICES },
      to: { path: MESH },
    },
    {
      name: 'web-app-no-node',
      severity: 'error',
      comment: "The web app's sources run in a browser: no Node workspace. (Its specs may import a service's error class to fake the service's exact answer.)",
      from: { path: '^web-app/src/', pathNot: '\\.spec\\.ts$' },
      to: { path: NODE_WORKSPACES.replace('^(', '^(@cns/|') },
    },
    {
      name: 'web-app-no-node-core',
      severity: 'error',
      comment: "The web app's sources run in a browser: no Node built-in module.",
      from: { path: '^web-app/src/', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Tests and sources alike: a test that reaches across a layer couples the layers just the same.
    exclude: { path: '(^|/)(node_modules|dist|fixtures|coverage|results|\\.mesh|\\.data|\\.test-results)/' },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'require', 'node', 'default'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.vue', '.json'],
    },
  },
};
