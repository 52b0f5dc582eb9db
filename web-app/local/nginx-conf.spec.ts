import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_MESH_ADMIN, listenAddress, renderNginxConf } from './nginx-conf.mjs';

const conf = readFileSync(path.join(__dirname, '..', 'nginx.conf'), 'utf8');
const opts = { host: '127.0.0.1', port: 43123, root: '/work/x/web-app/dist', runDir: '/tmp/web-app-abc' };

/** The config without comments and blank lines, directive per line, for comparing what nginx reads. */
const directives = (text: string) =>
  text
    .replace(/#.*$/gm, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

describe('renderNginxConf', () => {
  const out = renderNginxConf(conf, opts);

  it('points listen, root, pid, temp paths and logs at the local values', () => {
    const d = directives(out);
    expect(d).toContain('listen 127.0.0.1:43123;');
    expect(d).toContain('root /work/x/web-app/dist;');
    expect(d).toContain('pid /tmp/web-app-abc/nginx.pid;');
    expect(d).toContain('error_log /tmp/web-app-abc/error.log warn;');
    expect(d).toContain('access_log /tmp/web-app-abc/access.log json;');
    for (const name of ['client_body_temp', 'proxy_temp', 'fastcgi_temp', 'uwsgi_temp', 'scgi_temp']) {
      expect(d).toContain(`${name}_path /tmp/web-app-abc/${name};`);
    }
  });

  it('changes nothing else (same directives, line for line, apart from those above)', () => {
    const before = directives(conf);
    const after = directives(out);
    expect(after).toHaveLength(before.length);
    const changed = before.filter((line, i) => line !== after[i]);
    expect(changed.map((l) => l.split(/\s+/)[0])).toEqual([
      'pid',
      'error_log',
      'client_body_temp_path',
      'proxy_temp_path',
      'fastcgi_temp_path',
      'uwsgi_temp_path',
      'scgi_temp_path',
      'access_log',
      'listen',
      'root',
    ]);
    // The health locations keep their `access_log off;`.
    expect(after.filter((l) => l === 'access_log off;')).toHaveLength(2);
  });

  it('leaves no image path behind', () => {
    expect(out).not.toMatch(/\s\/tmp\/(nginx\.pid|\w+_temp);/);
    expect(out).not.toMatch(/\/dev\/std(out|err)/);
    expect(out).not.toMatch(/root \/usr\/share\/nginx/);
  });

  it('answers /mesh-admin.json with the mesh admin given, and with null (as the image) without one', () => {
    expect(directives(out)).toContain(`return 200 '${NO_MESH_ADMIN}\\n';`);
    const withAdmin = directives(renderNginxConf(conf, { ...opts, adminUrl: 'http://localhost:15123' }));
    expect(withAdmin).toContain(`return 200 '{"adminUrl":"http://localhost:15123"}\\n';`);
    for (const bad of ['http://localhost:15123/x', "http://localhost:1'; return 500", 'http://example.com:80', 'javascript:alert(1)']) {
      expect(() => renderNginxConf(conf, { ...opts, adminUrl: bad })).toThrow(/MESH_ADMIN_URL must be http:\/\/localhost:PORT/);
    }
  });

  it('brackets IPv6 listen addresses', () => {
    expect(listenAddress('::1', 80)).toBe('[::1]:80');
    expect(listenAddress('0.0.0.0', 8080)).toBe('0.0.0.0:8080');
    expect(directives(renderNginxConf(conf, { ...opts, host: '::1' }))).toContain('listen [::1]:43123;');
  });

  it('refuses bad input instead of writing a broken config', () => {
    expect(() => renderNginxConf(conf, { ...opts, port: 0 })).toThrow('invalid port');
    expect(() => renderNginxConf(conf, { ...opts, root: 'dist' })).toThrow('absolute');
    expect(() => renderNginxConf(conf, { ...opts, root: '/my dir/dist' })).toThrow('not usable');
    expect(() => renderNginxConf(conf, { ...opts, runDir: '/tmp/a;b' })).toThrow('not usable');
  });

  it('fails loudly when nginx.conf drifts (a directive missing or duplicated)', () => {
    expect(() => renderNginxConf(conf.replace(/^\s*pid .*$/m, ''), opts)).toThrow('expected 1 "pid" directive(s), found 0');
    expect(() => renderNginxConf(conf.replace('listen 8080;', 'listen 8080;\n    listen 8081;'), opts)).toThrow('found 2');
    expect(() => renderNginxConf(conf.replace(/access_log \/dev\/stdout json;/, 'access_log /dev/stdout;'), opts)).toThrow('access_log');
  });
});
