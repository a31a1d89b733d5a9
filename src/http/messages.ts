import type { FastifyInstance } from 'fastify'
import { ChatError } from '../errors.js'
import { describeIssue, HISTORY_DEFAULT_LIMIT, messagesQuery, roomName } from '../protocol/schemas.js'
import type { StoreReader } from '../store/store.js'
import type { Tokens } from '../tokens.js'
import { bearerIdentity } from './auth.js'

/**
 * `GET /api/rooms/:room/messages?before=&after=&limit=`: pages of a public room for any signed-in
 * user, of a private room for its members only (403 E_FORBIDDEN to anyone else, the same answer
 * whatever the reason). `after` pages forwards (oldest first from after+1, below `before` when both are given);
 * otherwise it pages backwards from `before` (default: the newest). Both walk the primary key.
 */

export interface MessageRouteOptions {
  tokens: Tokens
  reader: StoreReader
  perMinute: number
}

export async function messageRoutes (app: FastifyInstance, options: MessageRouteOptions): Promise<void> {
  app.get<{ Params: { room: string }, Querystring: Record<string, string> }>('/api/rooms/:room/messages', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } }
  }, async (request) => {
    const caller = bearerIdentity(options.tokens, request)
    const name = roomName.safeParse(request.params.room)
    if (!name.success) throw new ChatError('E_VALIDATION', `room: ${describeIssue(name.error)}`)
    const query = messagesQuery.safeParse(request.query)
    if (!query.success) throw new ChatError('E_VALIDATION', describeIssue(query.error))
    const room = await options.reader.roomInfo(name.data)
    if (room === undefined) throw new ChatError('E_NOT_FOUND', `room ${name.data} does not exist`)
    if (room.visibility === 'private' && await options.reader.role(room.id, caller.userId) === undefined) {
      throw new ChatError('E_FORBIDDEN', `room ${name.data} is not open to you`)
    }
    const { before, after, limit = HISTORY_DEFAULT_LIMIT } = query.data
    return after !== undefined
      ? await options.reader.after(room, after, before, limit)
      : await options.reader.before(room, before, limit)
  })
}
