/**
 * The duration grammar is Go's time.ParseDuration (what Istio's jsonpb unmarshaler and CRD CEL rules use); the
 * expected values are Go's own results for the same strings.
 */
import { parseDuration } from './duration';

test.each([
  ['1s', 1000],
  ['250ms', 250],
  ['1.5s', 1500],
  ['1m30s', 90_000],
  ['2h', 7_200_000],
  ['1.5h', 5_400_000],
  ['500us', 0.5],
  ['500µs', 0.5], // U+00B5 micro sign
  ['500μs', 0.5], // U+03BC Greek mu
  ['1000000ns', 1],
  ['.5s', 500],
  ['5.s', 5000],
  ['0', 0],
  ['+2s', 2000],
  ['-2s', -2000],
])('parseDuration(%s) = %d ms', (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

test.each([[''], ['10'], ['1 s'], ['s'], ['.s'], ['1sx'], ['1S'], ['1d'], ['--1s'], [' 1s'], [undefined], [5]])('parseDuration(%p) is undefined', (text) => {
  expect(parseDuration(text)).toBeUndefined();
});
