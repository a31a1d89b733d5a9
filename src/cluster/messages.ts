/**
 * Control messages between the primary and its workers (besides sticky's `sticky:*`, the cluster
 * adapter's and prom-client's, which those libraries define).
 */

import type { WriteOp, WriteResult } from '../store/write-ops.js'

export interface MemoryReport {
  worker: string
  gcForced: boolean
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  connections: number
}

export type WorkerToPrimary =
  | { type: 'chat:ready' }
  | { type: 'chat:memory-report', requestId: number, report: MemoryReport }
  | { type: 'chat:write', requestId: number, ops: WriteOp[] }

export type PrimaryToWorker =
  | { type: 'chat:worker-exit', workerId: string }
  | { type: 'chat:drain', deadlineMs: number }
  | { type: 'chat:memory', requestId: number, gc: boolean }
  /**
   * One store transaction, as it concerns one worker, in one message: the outcome of each of its
   * `chat:write` requests in the transaction (a result per op, or why the transaction failed), and
   * the transaction's new messages in commit (seq) order, which every worker gets: a JSON array of
   * CommittedMessage encoded once in the primary (a string is copied, not walked, by the IPC
   * serializer, so one more worker costs a copy instead of another structured clone).
   */
  | { type: 'chat:commit', answers: WriteAnswer[], messagesJson?: string }

/** The outcome of one `chat:write` request. */
export interface WriteAnswer {
  requestId: number
  results?: WriteResult[]
  error?: string
}

export function isControlMessage (value: unknown): value is { type: string } {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' &&
    (value as { type: string }).type.startsWith('chat:')
}
