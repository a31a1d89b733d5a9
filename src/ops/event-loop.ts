import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

/**
 * Event-loop delay as perf_hooks measures it, minus the sampling timer's own period (Node
 * records the whole interval between timer callbacks, so an idle loop reads ~`resolution`).
 */
export class EventLoopDelay {
  readonly #histogram: IntervalHistogram
  readonly #resolutionMs: number

  constructor (resolutionMs = 10) {
    this.#resolutionMs = resolutionMs
    this.#histogram = monitorEventLoopDelay({ resolution: resolutionMs })
    this.#histogram.enable()
  }

  /** Delay at a percentile (0–100) since the last reset, in milliseconds. */
  percentileMs (percentile: number): number {
    return Math.max(0, this.#histogram.percentile(percentile) / 1e6 - this.#resolutionMs)
  }

  maxMs (): number {
    return Math.max(0, this.#histogram.max / 1e6 - this.#resolutionMs)
  }

  reset (): void {
    this.#histogram.reset()
  }

  close (): void {
    this.#histogram.disable()
  }
}
