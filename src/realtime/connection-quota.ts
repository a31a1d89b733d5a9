import type { QuotaRefusal, WorkerToPrimary } from '../cluster/messages.js'

/**
 * A worker's side of the primary's connection quotas (src/cluster/connection-quotas.ts): asks
 * for a slot per handshake, releases it when the connection closes. Without a primary (a single
 * process) or when the primary does not answer in time, it admits: a quota is a fairness bound,
 * not worth refusing everyone over.
 */

const ANSWER_TIMEOUT_MS = 2000

export class ConnectionQuotaClient {
  readonly #send: ((message: WorkerToPrimary) => boolean) | undefined
  readonly #waiting = new Map<number, (refused: QuotaRefusal | undefined) => void>()
  #nextId = 1

  /** `send` is undefined outside a cluster. */
  constructor (send: ((message: WorkerToPrimary) => boolean) | undefined) {
    this.#send = send
  }

  async acquire (connectionId: string, userId: string, address: string): Promise<QuotaRefusal | undefined> {
    if (this.#send === undefined) return undefined
    const requestId = this.#nextId++
    return await new Promise((resolve) => {
      const timer = setTimeout(() => settle(undefined), ANSWER_TIMEOUT_MS)
      const settle = (refused: QuotaRefusal | undefined): void => {
        clearTimeout(timer)
        this.#waiting.delete(requestId)
        resolve(refused)
      }
      this.#waiting.set(requestId, settle)
      if (this.#send?.({ type: 'chat:quota-acquire', requestId, connectionId, userId, address }) !== true) settle(undefined)
    })
  }

  release (connectionId: string): void {
    this.#send?.({ type: 'chat:quota-release', connectionId })
  }

  /** The primary's `chat:quota-answer`. */
  answered (requestId: number, refused: QuotaRefusal | undefined): void {
    this.#waiting.get(requestId)?.(refused)
  }
}
