import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { JS_BUDGET_GZIP_BYTES, sizeReport } from './size-report.mjs';

describe('sizeReport', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'web-app-size-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sums raw and gzipped bytes per kind and ignores other files', () => {
    const a = 'const a = 1;\n'.repeat(200);
    const b = 'export const b = 2;\n';
    const c = 'body { color: red }\n'.repeat(50);
    writeFileSync(path.join(dir, 'a.js'), a);
    writeFileSync(path.join(dir, 'b.js'), b);
    writeFileSync(path.join(dir, 'c.css'), c);
    writeFileSync(path.join(dir, 'logo.svg'), '<svg/>');
    // The expectation from another implementation: GNU gzip -9, without name and time in the header (as zlib
    // writes it); for these repetitive inputs both compress to the same bytes.
    const gz = (s: string) => execFileSync('gzip', ['-9', '-n', '-c'], { input: s }).length;

    const r = sizeReport(dir);
    expect(r.files.map((f) => f.name)).toEqual(['a.js', 'b.js', 'c.css']);
    expect(r.js).toEqual({ bytes: a.length + b.length, gzipBytes: gz(a) + gz(b) });
    expect(r.css).toEqual({ bytes: c.length, gzipBytes: gz(c) });
    expect(r.budget).toEqual({ jsGzipBytes: JS_BUDGET_GZIP_BYTES, withinBudget: true });
  });

  it('counts an empty file as the 20 bytes of an empty gzip member (10 header, 2 of deflate, 8 trailer)', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'web-app-size-empty-'));
    try {
      writeFileSync(path.join(empty, 'empty.js'), '');
      expect(sizeReport(empty).js).toEqual({ bytes: 0, gzipBytes: 20 });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('flags JS over the 50 KB gzipped budget', () => {
    // Random bytes do not compress: 60 KB of them stay over 50 KB gzipped.
    writeFileSync(path.join(dir, 'big.js'), Buffer.from(Array.from({ length: 60 * 1024 }, () => Math.floor(Math.random() * 256))));
    expect(sizeReport(dir).budget.withinBudget).toBe(false);
  });
});
