import { parseDuration } from './duration';

test.each([
  ['1s', 1000],
  ['250ms', 250],
  ['1.5s', 1500],
  ['1m30s', 90_000],
  ['2h', 7_200_000],
  ['500us', 0.5],
  ['.5s', 500],
])('parseDuration(%s) = %d ms', (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

test.each([[''], ['10'], ['1 s'], ['s'], ['1sx'], [undefined]])('parseDuration(%s) is undefined', (text) => {
  expect(parseDuration(text)).toBeUndefined();
});
