import { readFileSync } from 'node:fs'
import { Piscina } from 'piscina'
import { ChatError } from '../errors.js'
import type { WorkerMetrics } from '../ops/metrics.js'
import { compiledPath } from '../paths.js'
import type { Message } from '../protocol/schemas.js'
import { createTextChecker, type MessageTextResult, type ModerationPolicy, type TextChecker } from '../text/check-message.js'

/**
 * The Piscina pool of one Socket.IO worker process, for work that would hold its event loop:
 * validating and moderating long texts, serializing large history pages. Work smaller than a
 * thread round trip runs inline (thresholds from scripts/bench-pool.ts, see docs/benchmarks.md).
 * A full queue rejects with E_OVERLOADED: the pool's backpressure reaches the client.
 */

/** What every pool thread is started with. */
export interface ChatPoolData {
  termsFile: string
  policy: ModerationPolicy
}

export interface ChatPoolOptions extends ChatPoolData {
  threads: number
  maxQueue: number
  /** Texts up to this many UTF-16 units are checked inline. */
  inlineMaxTextUnits: number
  /** Pages whose texts add up to at most this many UTF-16 units are serialized inline. */
  inlineMaxPageUnits: number
  metrics?: WorkerMetrics
  /** retryAfterMs suggested when the queue is full. */
  retryAfterMs: number
}

export class ChatPool {
  readonly #pool: Piscina
  readonly #inline: TextChecker
  readonly #options: ChatPoolOptions
  #closed: Promise<void> | undefined

  constructor (options: ChatPoolOptions) {
    const data: ChatPoolData = { termsFile: options.termsFile, policy: options.policy }
    this.#options = options
    this.#inline = createTextChecker(options.policy === 'off' ? '' : readFileSync(options.termsFile, 'utf8'), options.policy)
    this.#pool = new Piscina({
      filename: compiledPath('workers', 'chat-tasks.ts'),
      // Started on the first long text or large page, not at start-up: most chat texts are checked
      // inline, and an idle thread costs about 10 MB per worker.
      minThreads: 0,
      maxThreads: options.threads,
      maxQueue: options.maxQueue,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: data
    })
  }

  get termCount (): number {
    return this.#inline.termCount
  }

  get queueSize (): number {
    return this.#pool.queueSize
  }

  /** Validates and moderates a message text, inline when short, else on a pool thread. */
  async checkText (raw: string): Promise<MessageTextResult> {
    if (raw.length <= this.#options.inlineMaxTextUnits) {
      this.#options.metrics?.poolTasks.inc({ task: 'checkText', mode: 'inline' })
      return this.#inline(raw)
    }
    return await this.#run<MessageTextResult>('checkText', raw)
  }

  /**
   * JSON of a page of messages when it is big enough to be worth a thread, else undefined (the
   * caller lets Socket.IO serialize it inline).
   */
  async serializePage (messages: Message[]): Promise<string | undefined> {
    let units = 0
    for (const message of messages) units += message.text.length
    if (units <= this.#options.inlineMaxPageUnits) {
      this.#options.metrics?.poolTasks.inc({ task: 'serializeMessages', mode: 'inline' })
      return undefined
    }
    return await this.#run<string>('serializeMessages', messages)
  }

  async #run<T> (name: string, payload: unknown): Promise<T> {
    const metrics = this.#options.metrics
    metrics?.poolTasks.inc({ task: name, mode: 'pool' })
    const end = metrics?.poolRun.startTimer({ task: name })
    try {
      return await this.#pool.run(payload, { name }) as T
    } catch (error) {
      // Piscina's only signal for a full queue is this message (errors.js: TaskQueueAtLimit).
      if (error instanceof Error && error.message === 'Task queue is at limit') {
        throw new ChatError('E_OVERLOADED', 'server busy, retry later', { retryAfterMs: this.#options.retryAfterMs })
      }
      throw error
    } finally {
      end?.()
    }
  }

  close (): Promise<void> {
    this.#closed ??= this.#pool.destroy()
    return this.#closed
  }
}
