import type { QuotaRefusal } from './messages.js'

/**
 * The primary's count of open Socket.IO connections per user (MAX_SOCKETS_PER_USER) and per
 * client address (MAX_CONNECTIONS_PER_IP), over every worker. Workers ask before admitting a
 * handshake and report each close; a worker that exits releases everything it held.
 */

export interface ConnectionQuotaOptions {
  /** 0: no cap. */
  maxPerUser: number
  /** 0: no cap. */
  maxPerAddress: number
}

interface Held { userId: string, address: string }

export class ConnectionQuotas {
  readonly #options: ConnectionQuotaOptions
  readonly #perUser = new Map<string, number>()
  readonly #perAddress = new Map<string, number>()
  /** By worker id, then connection id. */
  readonly #held = new Map<number, Map<string, Held>>()

  constructor (options: ConnectionQuotaOptions) {
    this.#options = options
  }

  /** Takes a slot for the connection, or says which quota is full. */
  acquire (workerId: number, connectionId: string, userId: string, address: string): QuotaRefusal | undefined {
    const { maxPerUser, maxPerAddress } = this.#options
    if (maxPerUser > 0 && (this.#perUser.get(userId) ?? 0) >= maxPerUser) return 'user'
    if (maxPerAddress > 0 && (this.#perAddress.get(address) ?? 0) >= maxPerAddress) return 'address'
    let connections = this.#held.get(workerId)
    if (connections === undefined) this.#held.set(workerId, connections = new Map())
    if (connections.has(connectionId)) return undefined
    connections.set(connectionId, { userId, address })
    this.#perUser.set(userId, (this.#perUser.get(userId) ?? 0) + 1)
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1)
    return undefined
  }

  release (workerId: number, connectionId: string): void {
    const connections = this.#held.get(workerId)
    const held = connections?.get(connectionId)
    if (connections === undefined || held === undefined) return
    connections.delete(connectionId)
    decrement(this.#perUser, held.userId)
    decrement(this.#perAddress, held.address)
  }

  /** A worker exited: its connections are gone. */
  releaseWorker (workerId: number): void {
    for (const connectionId of [...this.#held.get(workerId)?.keys() ?? []]) this.release(workerId, connectionId)
    this.#held.delete(workerId)
  }
}

function decrement (counts: Map<string, number>, key: string): void {
  const count = (counts.get(key) ?? 1) - 1
  if (count <= 0) counts.delete(key)
  else counts.set(key, count)
}
