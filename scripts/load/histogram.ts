/**
 * A latency histogram in microseconds that driver processes fill and the coordinator merges:
 * exact below 64 µs, then 64 linear buckets per power of two (at most 1.6 % error), up to
 * about 35 minutes. Plain data crosses the process boundary (`toJSON`, `merge`).
 */

const SUB_BUCKETS = 64
const SUB_BITS = 6
const OCTAVES = 26
const SIZE = SUB_BUCKETS + OCTAVES * SUB_BUCKETS

export interface HistogramData {
  /** [bucket index, count] for every non-empty bucket. */
  buckets: Array<[number, number]>
  count: number
  sumUs: number
  maxUs: number
}

export interface LatencySummary {
  count: number
  meanMs: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  maxMs: number
}

function indexOf (us: number): number {
  const value = Math.max(0, Math.round(us))
  if (value < SUB_BUCKETS) return value
  const exponent = 31 - Math.clz32(value)
  const shift = exponent - SUB_BITS
  const index = SUB_BUCKETS + shift * SUB_BUCKETS + ((value >>> shift) - SUB_BUCKETS)
  return Math.min(index, SIZE - 1)
}

/** The middle of a bucket's range, in microseconds. */
function valueOf (index: number): number {
  if (index < SUB_BUCKETS) return index
  const shift = Math.floor((index - SUB_BUCKETS) / SUB_BUCKETS)
  const sub = SUB_BUCKETS + ((index - SUB_BUCKETS) % SUB_BUCKETS)
  return (sub << shift) + ((1 << shift) - 1) / 2
}

export class Histogram {
  readonly #counts = new Float64Array(SIZE)
  #count = 0
  #sumUs = 0
  #maxUs = 0

  record (us: number): void {
    this.#counts[indexOf(us)] += 1
    this.#count++
    this.#sumUs += us
    if (us > this.#maxUs) this.#maxUs = us
  }

  recordMs (ms: number): void {
    this.record(ms * 1000)
  }

  get count (): number {
    return this.#count
  }

  merge (data: HistogramData): this {
    for (const [index, count] of data.buckets) this.#counts[index] += count
    this.#count += data.count
    this.#sumUs += data.sumUs
    if (data.maxUs > this.#maxUs) this.#maxUs = data.maxUs
    return this
  }

  reset (): void {
    this.#counts.fill(0)
    this.#count = 0
    this.#sumUs = 0
    this.#maxUs = 0
  }

  /** The value at percentile p (0–100), in microseconds; 0 when empty. */
  percentileUs (p: number): number {
    if (this.#count === 0) return 0
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count))
    let seen = 0
    for (let index = 0; index < SIZE; index++) {
      seen += this.#counts[index] as number
      if (seen >= rank) return Math.min(valueOf(index), this.#maxUs)
    }
    return this.#maxUs
  }

  summary (): LatencySummary {
    const ms = (us: number): number => Math.round(us) / 1000
    return {
      count: this.#count,
      meanMs: this.#count === 0 ? 0 : ms(this.#sumUs / this.#count),
      p50Ms: ms(this.percentileUs(50)),
      p95Ms: ms(this.percentileUs(95)),
      p99Ms: ms(this.percentileUs(99)),
      maxMs: ms(this.#maxUs)
    }
  }

  toJSON (): HistogramData {
    const buckets: Array<[number, number]> = []
    for (let index = 0; index < SIZE; index++) {
      const count = this.#counts[index] as number
      if (count > 0) buckets.push([index, count])
    }
    return { buckets, count: this.#count, sumUs: this.#sumUs, maxUs: this.#maxUs }
  }

  static from (...data: HistogramData[]): Histogram {
    const histogram = new Histogram()
    for (const item of data) histogram.merge(item)
    return histogram
  }
}
