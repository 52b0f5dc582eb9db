// One palette for versions on every page: the web-app's split bar (web-app/src/styles.css --v1, --v2, --other),
// the graph's nodes and share bars, and the trace page. v1 and v2 have fixed colours; any other version is purple.
(function () {
  const versions = { v1: '#0a58a8', v2: '#b3430b' };
  const otherVersion = '#6e40c9';
  // Services on the trace page (no version there): distinct, and never one of the version colours.
  const services = ['#1a7f37', '#8250df', '#9a6700', '#0e7c86', '#bf3989', '#57606a', '#cf222e'];
  const hash = (text) => Math.abs([...String(text)].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7));
  window.meshPalette = {
    versionColor: (version) => versions[version] || otherVersion,
    serviceColor: (name) => services[hash(String(name).split('.')[0]) % services.length],
  };
})();
