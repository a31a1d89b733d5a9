import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { CommittedMessage } from '../store/write-ops.js'
import { closeRedis, connectRedis, MESSAGES_CHANNEL } from './redis.js'

/**
 * The VM's writer (the primary, or the only worker) publishes each transaction's new messages to
 * every other VM, after the commit and in commit order: one PUBLISH per transaction, the VM's id
 * then the messages as JSON. Fire and forget: while Redis is away the publish fails at once and
 * is counted; the other VMs catch up from the store (their periodic position check, and the
 * catch-up every resubscription runs), so a lost publish delays a delivery, never loses it.
 */

export interface MessagePublisherOptions {
  url: string
  vmId: string
  logger: Logger
  onPublished?: (ok: boolean) => void
  onState?: (up: boolean) => void
}

export class MessagePublisher {
  readonly #redis: Redis
  readonly #options: MessagePublisherOptions

  constructor (options: MessagePublisherOptions) {
    this.#options = options
    this.#redis = connectRedis({ url: options.url, role: 'publisher', logger: options.logger, ...(options.onState === undefined ? {} : { onState: options.onState }) })
  }

  /** Publishes one transaction's messages; `json` when the caller encoded them already. */
  publish (messages: CommittedMessage[], json?: string): void {
    if (messages.length === 0) return
    const payload = `${this.#options.vmId}\n${json ?? JSON.stringify(messages)}`
    this.#redis.publish(MESSAGES_CHANNEL, payload).then(
      () => this.#options.onPublished?.(true),
      () => this.#options.onPublished?.(false))
  }

  async close (): Promise<void> {
    await closeRedis(this.#redis)
  }
}
