/**
 * The one duration grammar of the local mesh, used by the manifest validation and the data plane alike.
 *
 * Istio reads `google.protobuf.Duration` fields of its CRDs with the legacy golang/protobuf `jsonpb` unmarshaler
 * (istio/istio pkg/util/protomarshal), which parses the string with Go's `time.ParseDuration`; the CRDs' CEL rules
 * (`duration(self) >= duration('1ms')`) use the same grammar. So: an optional sign, then either `0` alone or one or
 * more `<number><unit>` parts, where a number has digits before or after an optional dot (`1`, `1.5`, `.5`, `5.`) and a
 * unit is one of ns, us, µs, μs, ms, s, m, h. `1m30s`, `.5s`, `1.5h` parse; `1`, `1 s`, `s`, `1sx`, `.s` do not.
 */
const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$/;
const PART = /(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  '\u00b5s': 0.001,
  '\u03bcs': 0.001,
  ns: 0.000001,
};

/** Milliseconds of a Go-style duration (may be negative: validation rejects that); undefined when absent or unreadable. */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || !GO_DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  return text.startsWith('-') ? -total : total;
}
