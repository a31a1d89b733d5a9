import type { Answer } from './store.js'
import type { WriteOp, WriteResult } from './write-ops.js'

/**
 * Group commit, as both store writers do it: requests that arrive while a transaction is in
 * flight, or in the same event-loop turn, go into the next transaction together, whole
 * requests up to `maxBatch` ops (at least one request, however large); one transaction at a time.
 */

/** One requester's ops (a worker's, or the local worker's), answered together. */
export interface WriteRequest {
  requester: number
  requestId: number
  ops: WriteOp[]
}

export class GroupCommit {
  readonly #maxBatch: number
  readonly #commit: (requests: WriteRequest[]) => Promise<void>
  readonly #refuse: (request: WriteRequest) => void
  #queue: WriteRequest[] = []
  #inFlight: Promise<void> | undefined
  #scheduled = false
  #closed = false

  /** `commit` runs one transaction and must not reject; `refuse` answers a request after drain(). */
  constructor (maxBatch: number, commit: (requests: WriteRequest[]) => Promise<void>, refuse: (request: WriteRequest) => void) {
    this.#maxBatch = maxBatch
    this.#commit = commit
    this.#refuse = refuse
  }

  submit (request: WriteRequest): void {
    if (this.#closed) {
      this.#refuse(request)
      return
    }
    this.#queue.push(request)
    if (this.#scheduled || this.#inFlight !== undefined) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#flush()
    })
  }

  /** A transaction is in flight. */
  get busy (): boolean {
    return this.#inFlight !== undefined
  }

  #flush (): void {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return
    let count = 0
    let taken = 0
    while (taken < this.#queue.length && (taken === 0 || count + (this.#queue[taken] as WriteRequest).ops.length <= this.#maxBatch)) {
      count += (this.#queue[taken] as WriteRequest).ops.length
      taken++
    }
    const requests = this.#queue.slice(0, taken)
    this.#queue = this.#queue.slice(taken)
    this.#inFlight = this.#commit(requests).finally(() => {
      this.#inFlight = undefined
      this.#flush()
    })
  }

  /** Refuses new requests and resolves once everything queued is committed (or failed). */
  async drain (): Promise<void> {
    this.#closed = true
    while (this.#inFlight !== undefined || this.#queue.length > 0) {
      this.#flush()
      await this.#inFlight
    }
  }
}

/** Each request's slice of a transaction's results, in request order. */
export function answersFor (requests: readonly WriteRequest[], results: readonly WriteResult[]): Answer[] {
  let offset = 0
  return requests.map((request) => {
    const answer = { requester: request.requester, requestId: request.requestId, results: results.slice(offset, offset + request.ops.length) }
    offset += request.ops.length
    return answer
  })
}

/** The same error for every request of a failed transaction. */
export function failedAnswers (requests: readonly WriteRequest[], error: string): Answer[] {
  return requests.map((request) => ({ requester: request.requester, requestId: request.requestId, error }))
}
