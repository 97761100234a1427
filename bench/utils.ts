/** Small helpers shared by the benchmarks: timing, medians, one formatted row per comparison. */

export const timeIt = async (f: () => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Prints baseline and candidate times, their ratio, and whether it meets `target` (ratio ≤ target); without a
 * target the row is informational.
 */
export const printRow = (label: string, baselineMs: number, oursMs: number, target: number | undefined): void => {
  const ratio = oursMs / baselineMs
  const verdict = target === undefined ? "(informational)" : `(target ≤ ${target}) ${ratio <= target ? "✔" : "✘"}`
  process.stdout.write(
    `${label}: baseline ${baselineMs.toFixed(1)} ms, ours ${oursMs.toFixed(1)} ms, ratio ${ratio.toFixed(2)} ${verdict}\n`
  )
}
