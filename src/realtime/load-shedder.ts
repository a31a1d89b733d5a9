import { EventLoopDelay } from '../ops/event-loop.js'

/**
 * Graceful degradation driven by the event loop's own health. Every sample period the p99
 * event-loop delay is compared with the threshold: past it new connections are refused (level
 * 1), past twice it typing is dropped too (level 2), past three times sends are answered
 * E_OVERLOADED instead of queued (level 3). Levels fall one step per calm sample, so service
 * comes back by itself, without flapping, once the load falls.
 */

export type ShedLevel = 0 | 1 | 2 | 3

export interface LoadShedderOptions {
  /** p99 event-loop delay that starts shedding; 0 turns shedding off. */
  thresholdMs: number
  sampleMs?: number
  onChange?: (level: ShedLevel, p99Ms: number) => void
}

export class LoadShedder {
  #level: ShedLevel = 0
  #delay: EventLoopDelay | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #options: LoadShedderOptions

  constructor (options: LoadShedderOptions) {
    this.#options = options
  }

  /**
   * Starts measuring. Called once the worker serves: the start-up's own work (loading modules,
   * opening the store) must not count as load, or a fresh worker would refuse its first clients.
   */
  start (): void {
    if (this.#options.thresholdMs <= 0 || this.#timer !== undefined) return
    this.#delay = new EventLoopDelay()
    this.#timer = setInterval(() => this.#sample(), this.#options.sampleMs ?? 500).unref()
  }

  get level (): ShedLevel {
    return this.#level
  }

  get refuseConnections (): boolean {
    return this.#level >= 1
  }

  get dropTyping (): boolean {
    return this.#level >= 2
  }

  get refuseSends (): boolean {
    return this.#level >= 3
  }

  /** Forces a level (tests and the drain use it). */
  force (level: ShedLevel): void {
    this.#set(level, 0)
  }

  #sample (): void {
    const delay = this.#delay as EventLoopDelay
    const p99Ms = delay.percentileMs(99)
    delay.reset()
    const threshold = this.#options.thresholdMs
    const measured: ShedLevel = p99Ms > 3 * threshold ? 3 : p99Ms > 2 * threshold ? 2 : p99Ms > threshold ? 1 : 0
    const next = measured >= this.#level ? measured : (this.#level - 1) as ShedLevel
    this.#set(next, p99Ms)
  }

  #set (level: ShedLevel, p99Ms: number): void {
    if (level === this.#level) return
    this.#level = level
    this.#options.onChange?.(level, p99Ms)
  }

  close (): void {
    clearInterval(this.#timer)
    this.#delay?.close()
  }
}
