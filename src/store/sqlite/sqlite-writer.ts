import { Piscina } from 'piscina'
import { compiledPath } from '../../paths.js'
import { committedMessage, type Answer, type StoreWriter, type WriterHooks } from '../store.js'
import type { CommittedMessage, WriteOp, WriteResult, WriterThreadData } from '../write-ops.js'

/**
 * The cluster's one writer: in the primary, where every worker's store operations arrive over
 * IPC, or in the only worker (STORE_WRITER=auto with WORKERS=1), which calls it directly and so
 * pays no IPC per message. Either way a single store thread commits. Requests that arrive while
 * a transaction is in flight (or in the same event-loop turn) go into the next one together
 * (group commit: one fsync for many messages from every worker). A single writer means `seq` is
 * assigned without any lock contention between processes, and the new messages of each
 * transaction go out to every worker in commit order, so each worker sees every room's messages
 * in seq order.
 */

export interface SqliteWriterOptions extends WriterHooks {
  file: string
  sync: 'full' | 'normal'
  maxBatch: number
}

interface Request {
  requester: number
  requestId: number
  ops: WriteOp[]
}

export class SqliteWriter implements StoreWriter {
  readonly #pool: Piscina
  readonly #options: SqliteWriterOptions
  #queue: Request[] = []
  #inFlight: Promise<void> | undefined
  #scheduled = false
  #closing: Promise<void> | undefined

  constructor (options: SqliteWriterOptions) {
    const workerData: WriterThreadData = { file: options.file, sync: options.sync }
    this.#options = options
    this.#pool = new Piscina({
      filename: compiledPath('workers', 'store-writer.ts'),
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      // Commit latency is measured by onCommit; Piscina's own histograms would only cost time.
      recordTiming: false,
      workerData
    })
  }

  /** Queues one worker's request for the next transaction. */
  submit (requester: number, requestId: number, ops: WriteOp[]): void {
    if (this.#closing !== undefined) {
      this.#options.deliver([{ requester, requestId, error: 'store is closing' }], [])
      return
    }
    this.#queue.push({ requester, requestId, ops })
    if (this.#scheduled || this.#inFlight !== undefined) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#flush()
    })
  }

  #flush (): void {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return
    // Whole requests, up to maxBatch ops (at least one request, however large).
    let count = 0
    let taken = 0
    while (taken < this.#queue.length && (taken === 0 || count + (this.#queue[taken] as Request).ops.length <= this.#options.maxBatch)) {
      count += (this.#queue[taken] as Request).ops.length
      taken++
    }
    const batch = this.#queue.slice(0, taken)
    this.#queue = this.#queue.slice(taken)
    const ops = batch.flatMap((request) => request.ops)
    const started = performance.now()
    this.#inFlight = this.#pool.run(ops).then(
      (results: WriteResult[]) => {
        this.#options.onCommit?.(ops.length, performance.now() - started, true)
        const revoked = ops.flatMap((op) => op.kind === 'revoke' ? [{ key: op.key, expiresAtMs: op.expiresAtMs }] : [])
        if (revoked.length > 0) this.#options.onRevoked?.(revoked)
        let offset = 0
        const answers: Answer[] = batch.map((request) => {
          const answer = { requester: request.requester, requestId: request.requestId, results: results.slice(offset, offset + request.ops.length) }
          offset += request.ops.length
          return answer
        })
        const committed: CommittedMessage[] = []
        for (let i = 0; i < ops.length; i++) {
          const op = ops[i] as WriteOp
          const result = results[i] as WriteResult
          if (op.kind !== 'append' || result.kind !== 'append' || result.duplicate) continue
          committed.push(committedMessage(op, result))
        }
        this.#options.deliver(answers, committed)
      },
      (error: unknown) => {
        this.#options.onCommit?.(ops.length, performance.now() - started, false)
        const message = error instanceof Error ? error.message : String(error)
        this.#options.deliver(batch.map((request) => ({ requester: request.requester, requestId: request.requestId, error: message })), [])
      }
    ).finally(() => {
      this.#inFlight = undefined
      this.#flush()
    })
  }

  /** The file is local: always reachable. */
  available (): boolean {
    return true
  }

  /** Commits everything queued, checkpoints and closes the store thread. Idempotent. */
  close (): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#inFlight !== undefined || this.#queue.length > 0) {
        this.#flush()
        await this.#inFlight
      }
      try {
        await this.#pool.run(undefined, { name: 'close' })
      } finally {
        await this.#pool.destroy()
      }
    })()
    return this.#closing
  }
}
