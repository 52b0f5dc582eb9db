/**
 * The graph's time window: a fixed ring of one-second slots (the current, partial second and the 60 whole seconds
 * before it) of `width` counters each. One implementation for every per-second figure the graph keeps (an HTTP edge's
 * duration buckets and mTLS count, each outcome's requests, a TCP edge's bytes and connections): memory does not
 * grow with the load, and a count costs one array increment.
 */

/** The graph's traffic is kept this long (as per-second aggregates); a graph window is at most this. */
export const MAX_GRAPH_WINDOW_MS = 60_000;
/** One-second slots: the current (partial) second and the 60 whole seconds before it. */
export const GRAPH_SLOTS = MAX_GRAPH_WINDOW_MS / 1000 + 1;

/** A graph window in whole seconds: `windowMs` rounded, 1–60. */
export function windowSeconds(windowMs: number): number {
  return Math.max(1, Math.min(MAX_GRAPH_WINDOW_MS / 1000, Math.round(windowMs / 1000)));
}

export class SecondSlots {
  /** The second each slot holds; -1: never used. A slot is cleared when a newer second takes it. */
  private readonly seconds = new Float64Array(GRAPH_SLOTS).fill(-1);
  /** Per slot, `width` counters. */
  readonly values: Float64Array;

  constructor(readonly width: number) {
    this.values = new Float64Array(GRAPH_SLOTS * width);
  }

  /** The offset in `values` of the slot of `second` (a whole second since the epoch), cleared first when it last held an older second. */
  at(second: number): number {
    const i = second % GRAPH_SLOTS;
    const offset = i * this.width;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.values.fill(0, offset, offset + this.width);
    }
    return offset;
  }

  /** Per counter, the sum over the slots of the last `seconds` whole seconds before `nowSecond` and `nowSecond` itself. */
  sum(nowSecond: number, seconds: number): Float64Array {
    const out = new Float64Array(this.width);
    for (let i = 0; i < GRAPH_SLOTS; i++) {
      const age = nowSecond - this.seconds[i];
      if (age < 0 || age > seconds) continue;
      for (let c = 0, offset = i * this.width; c < this.width; c++) out[c] += this.values[offset + c];
    }
    return out;
  }
}
