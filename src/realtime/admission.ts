import { ChatError, errorBody } from '../errors.js'
import { openFilesLimit } from '../ops/open-files.js'
import type { Identity } from '../tokens.js'
import type { RealtimeContext } from './context.js'
import type { ChatServer } from './types.js'

/**
 * The handshake gate of one worker, in the order the checks cost: draining, this worker's
 * connection cap, load shedding, the per-address connection rate (counted in the primary for
 * every worker), the token, then the connections the user and the client address already hold
 * (MAX_SOCKETS_PER_USER, MAX_CONNECTIONS_PER_IP, counted in the primary). The address is the
 * client's real one (the primary resolves it, TRUST_PROXY). A refusal for load or a quota is
 * `connect_error` `E_OVERLOADED` with a
 * jittered `retryAfterMs`, and the engine connection is closed at once (no half-open socket
 * waiting for the connect timeout); a bad token is `E_UNAUTHORIZED`.
 */

const OPEN_FILES_RESERVE = 256

/** This worker's share of MAX_CONNECTIONS, never more than its open-files limit leaves room for. */
export function workerConnectionLimit (config: RealtimeContext['config']): number {
  const filesLimit = openFilesLimit()
  return Math.min(
    config.MAX_CONNECTIONS_PER_WORKER > 0 ? config.MAX_CONNECTIONS_PER_WORKER : Number.POSITIVE_INFINITY,
    // The primary spreads sessions evenly, so each worker takes its share.
    Math.ceil(config.MAX_CONNECTIONS / config.WORKERS),
    // A descriptor per connection, a few for the store, the pool and IPC.
    filesLimit === undefined ? Number.POSITIVE_INFINITY : filesLimit - OPEN_FILES_RESERVE
  )
}

/** A middleware error; its `data` is the `connect_error` data of PROTOCOL.md: `{ code, retryAfterMs? }`. */
function refusal (code: 'E_OVERLOADED' | 'E_UNAUTHORIZED' | 'E_INTERNAL', message: string, retryAfterMs?: number): Error {
  const { message: _message, ...data } = errorBody(code, message, retryAfterMs)
  return Object.assign(new Error(message), { data })
}

export function installAdmission (io: ChatServer, context: RealtimeContext, maxConnections: number): void {
  const { metrics, limits, shedder, tokens, logger, quotas, config } = context
  io.use((socket, next) => {
    const refuse = (reason: string, message: string, retryAfterMs: number): void => {
      metrics.connectionsRejected.inc({ reason })
      next(refusal('E_OVERLOADED', message, retryAfterMs))
      setImmediate(() => { if (!socket.connected) socket.conn.close() })
    }
    if (context.draining) return refuse('draining', 'server restarting', context.overloadRetryAfterMs())
    if (io.engine.clientsCount > maxConnections) return refuse('max_connections', 'server full', context.overloadRetryAfterMs())
    if (shedder.refuseConnections) {
      metrics.shed.inc({ what: 'connection', reason: 'event-loop' })
      return refuse('shedding', 'server busy', context.overloadRetryAfterMs())
    }
    const address = socket.handshake.address
    limits.connection(address).then(async (retryAfterMs) => {
      if (retryAfterMs !== undefined) return refuse('ip_rate', 'too many connections from this address', context.jitter(retryAfterMs))
      let identity: Identity
      try {
        identity = tokens.verify((socket.handshake.auth as { token?: unknown } | undefined)?.token)
      } catch (error) {
        metrics.connectionsRejected.inc({ reason: 'unauthorized' })
        next(refusal('E_UNAUTHORIZED', error instanceof ChatError ? error.message : 'invalid token'))
        return
      }
      socket.handshake.auth = {} // the token is verified; do not keep it for the connection's life
      const connectionId = socket.id
      const refused = await quotas.acquire(connectionId, identity.userId, address)
      if (refused === 'user') return refuse('user_sockets', `a user may hold at most ${config.MAX_SOCKETS_PER_USER} connections`, context.overloadRetryAfterMs())
      if (refused === 'address') return refuse('ip_connections', `an address may hold at most ${config.MAX_CONNECTIONS_PER_IP} connections`, context.overloadRetryAfterMs())
      // Revoked while the quota was asked for: the revocation's sweep did not see this socket yet.
      if (tokens.revoked(identity.revocationKey)) {
        quotas.release(connectionId)
        metrics.connectionsRejected.inc({ reason: 'unauthorized' })
        next(refusal('E_UNAUTHORIZED', 'token revoked'))
        return
      }
      // Released when the connection closes, however it ends (even before the Socket.IO connect completes).
      if (socket.conn.readyState === 'closed') quotas.release(connectionId)
      else socket.conn.once('close', () => quotas.release(connectionId))
      socket.data = { userId: identity.userId, username: identity.username, expiresAtMs: identity.expiresAtMs, tokenKey: identity.revocationKey, rooms: new Map(), typing: new Set() }
      next()
    }).catch((error: unknown) => {
      logger.error({ err: error }, 'admission check failed')
      next(refusal('E_INTERNAL', 'internal error'))
    })
  })
}
