// One palette for versions on every page: the web-app's split bar (web-app/src/styles.css --v1, --v2, --other),
// the graph's nodes and share bars, and the trace page. v1 and v2 have fixed colours; any other version is purple.
(function () {
  const versions = { v1: '#0a58a8', v2: '#b3430b' };
  const otherVersion = '#6e40c9';
  // Services on the trace page (no version there): never a version colour, never red (red means an error). The
  // sample's apps get fixed ones so that no two of them look alike; another app gets one by its name.
  const apps = { 'istio-ingressgateway': '#57606a', 'web-api': '#1a7f37', articles: '#9a6700', authors: '#8250df', 'web-app': '#0e7c86', postgres: '#bf3989' };
  const services = ['#1a7f37', '#8250df', '#9a6700', '#0e7c86', '#bf3989', '#57606a'];
  const hash = (text) => Math.abs([...String(text)].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7));
  const appOf = (name) => String(name).split('.')[0];
  window.meshPalette = {
    versionColor: (version) => versions[version] || otherVersion,
    serviceColor: (name) => apps[appOf(name)] || services[hash(appOf(name)) % services.length],
  };
})();
