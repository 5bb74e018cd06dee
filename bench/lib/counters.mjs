/** A load generator's delivery counters; the parent merges them (scenarios/common.mjs mergeStats). */
export function freshCounters() {
  return {
    delivered: 0,
    gaps: 0,
    duplicates: 0,
    errorFrames: 0,
    errorSamples: [],
    unexpectedCloses: {},
    firstRecv: null,
    lastRecv: null,
  };
}
