import type { FastifyInstance } from 'fastify'
import { ChatError } from '../errors.js'
import { describeIssue, HISTORY_DEFAULT_LIMIT, messagesQuery, roomName } from '../protocol/schemas.js'
import type { MessageReader } from '../store/message-reader.js'
import type { Tokens } from '../tokens.js'
import { bearerIdentity } from './auth.js'

/**
 * `GET /api/rooms/:room/messages?before=&after=&limit=`: pages of a public room for any signed-in
 * user. `after` pages forwards (oldest first from after+1, below `before` when both are given);
 * otherwise it pages backwards from `before` (default: the newest). Both walk the primary key.
 */

export interface MessageRouteOptions {
  tokens: Tokens
  reader: MessageReader
  perMinute: number
}

export async function messageRoutes (app: FastifyInstance, options: MessageRouteOptions): Promise<void> {
  app.get<{ Params: { room: string }, Querystring: Record<string, string> }>('/api/rooms/:room/messages', {
    config: { rateLimit: { max: options.perMinute, timeWindow: 60_000 } }
  }, async (request) => {
    bearerIdentity(options.tokens, request)
    const name = roomName.safeParse(request.params.room)
    if (!name.success) throw new ChatError('E_VALIDATION', `room: ${describeIssue(name.error)}`)
    const query = messagesQuery.safeParse(request.query)
    if (!query.success) throw new ChatError('E_VALIDATION', describeIssue(query.error))
    const found = options.reader.findRoom(name.data)
    if (found === undefined) throw new ChatError('E_NOT_FOUND', `room ${name.data} does not exist`)
    const room = { id: found.id, name: name.data }
    const { before, after, limit = HISTORY_DEFAULT_LIMIT } = query.data
    return after !== undefined
      ? options.reader.after(room, after, before, limit)
      : options.reader.before(room, before, limit)
  })
}
