import { Piscina } from 'piscina'
import { compiledPath } from '../../paths.js'
import { answersFor, failedAnswers, GroupCommit, type WriteRequest } from '../group-commit.js'
import { committedMessage, type StoreWriter, type WriterHooks } from '../store.js'
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

export class SqliteWriter implements StoreWriter {
  readonly #pool: Piscina
  readonly #options: SqliteWriterOptions
  readonly #group: GroupCommit
  #closing: Promise<void> | undefined

  constructor (options: SqliteWriterOptions) {
    const workerData: WriterThreadData = { file: options.file, sync: options.sync }
    this.#options = options
    this.#group = new GroupCommit(options.maxBatch, async (requests) => await this.#commit(requests),
      (request) => options.deliver(failedAnswers([request], 'store is closing'), []))
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
    this.#group.submit({ requester, requestId, ops })
  }

  /** One transaction on the store thread; answers every request of it, never rejects. */
  async #commit (requests: WriteRequest[]): Promise<void> {
    const ops = requests.flatMap((request) => request.ops)
    const started = performance.now()
    let results: WriteResult[]
    try {
      results = await this.#pool.run(ops) as WriteResult[]
    } catch (error) {
      this.#options.onCommit?.(ops.length, performance.now() - started, false)
      this.#options.deliver(failedAnswers(requests, error instanceof Error ? error.message : String(error)), [])
      return
    }
    this.#options.onCommit?.(ops.length, performance.now() - started, true)
    const revoked = ops.flatMap((op) => op.kind === 'revoke' ? [{ key: op.key, expiresAtMs: op.expiresAtMs }] : [])
    if (revoked.length > 0) this.#options.onRevoked?.(revoked)
    const committed: CommittedMessage[] = []
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as WriteOp
      const result = results[i] as WriteResult
      if (op.kind !== 'append' || result.kind !== 'append' || result.duplicate) continue
      committed.push(committedMessage(op, result))
    }
    this.#options.deliver(answersFor(requests, results), committed)
  }

  /** The file is local: always reachable. */
  available (): boolean {
    return true
  }

  /** Commits everything queued, checkpoints and closes the store thread. Idempotent. */
  close (): Promise<void> {
    this.#closing ??= (async () => {
      await this.#group.drain()
      try {
        await this.#pool.run(undefined, { name: 'close' })
      } finally {
        await this.#pool.destroy()
      }
    })()
    return this.#closing
  }
}
