/**
 * Control messages between the primary and its workers (besides sticky's `sticky:*`, the cluster
 * adapter's and prom-client's, which those libraries define).
 */

import type { RevokedToken } from '../revocations.js'
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
  /** A handshake passed every other check: may this user and address hold one more connection? */
  | { type: 'chat:quota-acquire', requestId: number, connectionId: string, userId: string, address: string }
  /** A connection that held a quota slot closed. */
  | { type: 'chat:quota-release', connectionId: string }

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
  /** Tokens revoked (DELETE /api/sessions on any worker), sent to every worker before the revoking request is answered. */
  | { type: 'chat:revoked', tokens: RevokedToken[] }
  /** The answer to `chat:quota-acquire`: granted, or which quota refused it. */
  | { type: 'chat:quota-answer', requestId: number, refused?: QuotaRefusal }

/** Which connection quota refused a handshake. */
export type QuotaRefusal = 'user' | 'address'

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
