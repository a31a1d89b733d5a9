import { Piscina } from 'piscina'
import { compiledPath } from '../paths.js'
import type { WriteOp, ResultOf, WriteResult, WriterThreadData } from './write-ops.js'

/**
 * The write side of the store as a worker process sees it: `run(op)` resolves once the op is
 * committed. Ops that arrive while a commit is in flight (or in the same event-loop turn) are
 * committed together in the next transaction: group commit, one fsync for many messages, and
 * SQLite's write lock (and its waits) never touch the event loop.
 */

export interface StoreWriterOptions {
  file: string
  sync: 'full' | 'normal'
  maxBatch: number
  /** Called after every commit attempt with its batch size, duration and outcome. */
  onCommit?: (batchSize: number, durationMs: number, ok: boolean) => void
}

interface PendingOp {
  op: WriteOp
  resolve: (result: WriteResult) => void
  reject: (error: Error) => void
}

export class StoreWriter {
  readonly #pool: Piscina
  readonly #maxBatch: number
  readonly #onCommit: StoreWriterOptions['onCommit']
  #queue: PendingOp[] = []
  #inFlight: Promise<void> | undefined
  #scheduled = false
  #closing: Promise<void> | undefined

  constructor (options: StoreWriterOptions) {
    const workerData: WriterThreadData = { file: options.file, sync: options.sync }
    this.#pool = new Piscina({
      filename: compiledPath('workers', 'store-writer.ts'),
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      workerData
    })
    this.#maxBatch = options.maxBatch
    this.#onCommit = options.onCommit
  }

  /** Queues one op for the next commit; resolves with its result after the commit. */
  run<T extends WriteOp> (op: T): Promise<ResultOf<T>> {
    if (this.#closing !== undefined) return Promise.reject(new Error('store writer is closed'))
    return new Promise<ResultOf<T>>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (result: WriteResult) => void, reject })
      this.#schedule()
    })
  }

  /** Ops queued or being committed. */
  get backlog (): number {
    return this.#queue.length
  }

  #schedule (): void {
    if (this.#scheduled || this.#inFlight !== undefined) return
    this.#scheduled = true
    // Gather everything that arrives in this event-loop turn into the same transaction.
    setImmediate(() => {
      this.#scheduled = false
      this.#flush()
    })
  }

  #flush (): void {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return
    const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch)
    this.#queue = this.#queue.length <= this.#maxBatch ? [] : this.#queue.slice(this.#maxBatch)
    const started = performance.now()
    this.#inFlight = this.#pool.run(batch.map((entry) => entry.op)).then(
      (results: WriteResult[]) => {
        this.#onCommit?.(batch.length, performance.now() - started, true)
        for (let i = 0; i < batch.length; i++) (batch[i] as PendingOp).resolve(results[i] as WriteResult)
      },
      (error: unknown) => {
        this.#onCommit?.(batch.length, performance.now() - started, false)
        const failure = error instanceof Error ? error : new Error(String(error))
        for (const entry of batch) entry.reject(failure)
      }
    ).finally(() => {
      this.#inFlight = undefined
      this.#flush()
    })
  }

  /** Resolves when everything queued so far is committed (or failed). */
  async drain (): Promise<void> {
    while (this.#inFlight !== undefined || this.#queue.length > 0) {
      this.#flush()
      await this.#inFlight
    }
  }

  /** Drains, closes the store thread's connection (checkpointing the WAL) and stops the thread. Idempotent. */
  close (): Promise<void> {
    this.#closing ??= (async () => {
      await this.drain()
      try {
        await this.#pool.run(undefined, { name: 'close' })
      } finally {
        await this.#pool.destroy()
      }
    })()
    return this.#closing
  }
}
