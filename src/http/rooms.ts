import type { FastifyInstance } from 'fastify'
import type { StoreReader } from '../store/store.js'
import type { Tokens } from '../tokens.js'
import { bearerIdentity } from './auth.js'

/**
 * `GET /api/rooms` (bearer): the caller's memberships, `{ rooms: [{ room, visibility, role,
 * direct }] }` by room name. `direct` (an addition) marks direct-message rooms.
 */

export interface RoomRouteOptions {
  tokens: Tokens
  reader: StoreReader
  perMinute: number
}

export async function roomRoutes (app: FastifyInstance, options: RoomRouteOptions): Promise<void> {
  app.get('/api/rooms', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } }
  }, async (request) => {
    const caller = bearerIdentity(options.tokens, request)
    return { rooms: await options.reader.memberships(caller.userId) }
  })
}
