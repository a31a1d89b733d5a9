import type { WorkerToPrimary } from '../cluster/messages.js'
import { performance } from 'node:perf_hooks'
import type { ResultOf, WriteOp, WriteResult } from './write-ops.js'

/**
 * A worker's handle on the cluster's store writer (the primary's StoreService): `run(op)`
 * resolves once the op is committed. Ops of one event-loop turn travel in one IPC request; the
 * primary folds requests from every worker into one transaction. The event loop never waits on
 * SQLite's write lock or an fsync.
 */

export interface StoreClientOptions {
  /** Sends a request to the primary; false when the channel is gone. */
  send: (message: WorkerToPrimary) => boolean
}

interface PendingOp {
  /** performance.now() when the op was asked for. */
  at: number
  op: WriteOp
  resolve: (result: WriteResult) => void
  reject: (error: Error) => void
}

export class StoreClient {
  readonly #send: StoreClientOptions['send']
  readonly #requests = new Map<number, PendingOp[]>()
  #queue: PendingOp[] = []
  #scheduled = false
  #nextId = 1
  #backlog = 0
  #idle: Array<() => void> = []
  #closed = false

  constructor (options: StoreClientOptions) {
    this.#send = options.send
  }

  /** Queues one op; resolves with its result after the commit. */
  run<T extends WriteOp> (op: T): Promise<ResultOf<T>> {
    if (this.#closed) return Promise.reject(new Error('store client is closed'))
    return new Promise<ResultOf<T>>((resolve, reject) => {
      this.#queue.push({ at: performance.now(), op, resolve: resolve as (result: WriteResult) => void, reject })
      this.#backlog++
      if (this.#scheduled) return
      this.#scheduled = true
      // Everything asked for in this event-loop turn goes in one request.
      setImmediate(() => this.#flush())
    })
  }

  /** Ops waiting for their commit. */
  get backlog (): number {
    return this.#backlog
  }

  /** How long the oldest op still waiting for its commit has waited, in ms (0 when none waits). */
  oldestWaitMs (): number {
    // Requests are answered in the order they were sent, so the first one left is the oldest.
    const oldest = this.#requests.values().next().value?.[0] ?? this.#queue[0]
    return oldest === undefined ? 0 : performance.now() - oldest.at
  }

  /** Handles the answer to one request (from the primary's `chat:commit`, or the local store). */
  answered (requestId: number, results: WriteResult[] | undefined, error: string | undefined): void {
    const entries = this.#requests.get(requestId)
    if (entries === undefined) return
    this.#requests.delete(requestId)
    entries.forEach((entry, i) => {
      const result = results?.[i]
      if (result !== undefined) entry.resolve(result)
      else entry.reject(new Error(error ?? 'store returned no result'))
    })
    this.#settled(entries.length)
  }

  #flush (): void {
    this.#scheduled = false
    const entries = this.#queue
    this.#queue = []
    if (entries.length === 0) return
    const requestId = this.#nextId++
    this.#requests.set(requestId, entries)
    let sent = false
    try {
      sent = this.#send({ type: 'chat:write', requestId, ops: entries.map((entry) => entry.op) })
    } catch {}
    if (!sent) this.answered(requestId, undefined, 'the primary is unreachable')
  }

  #settled (count: number): void {
    this.#backlog -= count
    if (this.#backlog === 0) for (const resolve of this.#idle.splice(0)) resolve()
  }

  /** Resolves when every op asked for so far is committed or failed. */
  async drain (): Promise<void> {
    if (this.#backlog === 0) return
    await new Promise<void>((resolve) => this.#idle.push(resolve))
  }

  /** Refuses new ops and waits for the ones in flight. Idempotent. */
  async close (): Promise<void> {
    this.#closed = true
    await this.drain()
  }
}
