/**
 * Control messages between the primary and its workers (besides sticky's `sticky:*`, the cluster
 * adapter's and prom-client's, which those libraries define).
 */

export type WorkerToPrimary =
  | { type: 'chat:ready' }
  | { type: 'chat:draining' }

export type PrimaryToWorker =
  | { type: 'chat:worker-exit', workerId: string }
  | { type: 'chat:drain', deadlineMs: number }

export function isControlMessage (value: unknown): value is { type: string } {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' &&
    (value as { type: string }).type.startsWith('chat:')
}
