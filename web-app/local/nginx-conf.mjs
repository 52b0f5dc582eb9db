// Renders web-app/nginx.conf (written for the container image) into a config that runs on this machine as any
// user. Only these change: the listen address, the root, and the pid/temp/log paths. Everything else (headers,
// caching, gzip, locations) stays byte-for-byte the image's, so a local test of nginx tests the image's config.
import path from 'node:path';

/** Temp-path directives of nginx.conf, each pointing to /tmp/<name> in the image. */
export const TEMP_PATH_DIRECTIVES = ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'];

/** `host:port` for a listen directive; IPv6 addresses need brackets. */
export function listenAddress(host, port) {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${h}:${port}`;
}

/**
 * Replaces the value of every `directive value;` line with `value`. Throws when the directive is not there
 * exactly `expected` times: a renamed or duplicated directive in nginx.conf must break the local run loudly
 * rather than leave an image path (such as /tmp/nginx.pid) in the local copy.
 */
function replaceDirective(conf, directive, value, expected = 1) {
  const re = new RegExp(`^([ \\t]*${directive})[ \\t]+[^;#\\n]+;`, 'gm');
  let count = 0;
  const out = conf.replace(re, (_m, head) => {
    count += 1;
    return `${head} ${value};`;
  });
  if (count !== expected) {
    throw new Error(`nginx.conf: expected ${expected} "${directive}" directive(s), found ${count}`);
  }
  return out;
}

/** Tokens that still name a path of the image (pid/temp under /tmp, /dev/std*, the image's html root). */
const IMAGE_PATHS = [/^\/tmp\/[a-z_]+(\.pid)?;?$/, /^\/dev\/std(out|err)/, /^\/usr\/share\/nginx/];

/** The answer of `location = /mesh-admin.json` in nginx.conf (no mesh admin: the image). */
export const NO_MESH_ADMIN = '{"adminUrl":null}';

/**
 * The local mesh admin's URL as the app may link to it: an http origin of a loopback host, nothing nginx would read
 * as syntax. Throws with the reason otherwise (the value comes from MESH_ADMIN_URL).
 */
export function checkAdminUrl(adminUrl) {
  if (!/^http:\/\/(localhost|127\.0\.0\.1|\[::1\]):\d{1,5}$/.test(adminUrl)) {
    throw new Error(`MESH_ADMIN_URL must be http://localhost:PORT (the local mesh's admin), got ${JSON.stringify(adminUrl)}`);
  }
  return adminUrl;
}

/** The body of /mesh-admin.json: where the app links to the mesh's graph and trace pages. */
export function meshAdminAnswer(adminUrl) {
  return adminUrl ? JSON.stringify({ adminUrl: checkAdminUrl(adminUrl) }) : NO_MESH_ADMIN;
}

/**
 * @param {string} conf  the text of web-app/nginx.conf
 * @param {{ host: string, port: number, root: string, runDir: string, adminUrl?: string }} opts
 *   root: absolute path of the built app; runDir: an absolute, writable directory for pid, temp files and logs;
 *   adminUrl: the local mesh's admin (MESH_ADMIN_URL), answered at /mesh-admin.json
 * @returns {string} the local config
 */
export function renderNginxConf(conf, { host, port, root, runDir, adminUrl }) {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port: ${port}`);
  if (!path.isAbsolute(root) || !path.isAbsolute(runDir)) throw new Error('root and runDir must be absolute paths');
  // nginx reads `;`, `#`, quotes, braces and whitespace as syntax: such a path would change the config's meaning.
  for (const p of [root, runDir, host]) {
    if (!p || /[\s;#'"{}$\\]/.test(p)) throw new Error(`path or host not usable in nginx.conf: ${JSON.stringify(p)}`);
  }
  let out = conf;
  out = replaceDirective(out, 'listen', listenAddress(host, port));
  out = replaceDirective(out, 'root', root);
  out = replaceDirective(out, 'pid', path.join(runDir, 'nginx.pid'));
  for (const d of TEMP_PATH_DIRECTIVES) {
    out = replaceDirective(out, d, path.join(runDir, d.replace(/_path$/, '')));
  }
  out = replaceDirective(out, 'error_log', `${path.join(runDir, 'error.log')} warn`);
  // `access_log off;` in the health locations is not a path: only the line with the json format is replaced.
  let accessLogs = 0;
  out = out.replace(/^([ \t]*access_log)[ \t]+\/\S+[ \t]+json;/gm, (_m, head) => {
    accessLogs += 1;
    return `${head} ${path.join(runDir, 'access.log')} json;`;
  });
  if (accessLogs !== 1) throw new Error(`nginx.conf: expected 1 "access_log <path> json;" directive, found ${accessLogs}`);

  const answers = out.split(`'${NO_MESH_ADMIN}\\n'`).length - 1;
  if (answers !== 1) throw new Error(`nginx.conf: expected 1 "return 200 '${NO_MESH_ADMIN}\\n';" line, found ${answers}`);
  if (adminUrl) out = out.replace(`'${NO_MESH_ADMIN}\\n'`, `'${meshAdminAnswer(adminUrl)}\\n'`);

  const tokens = out.replace(/#.*$/gm, '').split(/\s+/);
  const leftover = tokens.find((t) => IMAGE_PATHS.some((re) => re.test(t)));
  if (leftover) throw new Error(`nginx.conf: an image path is left in the local copy: ${leftover}`);
  return out;
}
