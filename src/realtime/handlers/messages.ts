import { performance } from 'node:perf_hooks'
import { ChatError } from '../../errors.js'
import type { Ack, HistoryOk, MessageSendOk } from '../../protocol/events.js'
import { HISTORY_DEFAULT_LIMIT, historyPayload, messageDeletePayload, messageSendPayload, type Message } from '../../protocol/schemas.js'
import type { RealtimeContext } from '../context.js'
import { errorAck, parse, type Pipelined } from '../dispatch.js'
import { PreEncodedJson } from '../parser.js'
import { STORE_UNAVAILABLE } from '../../store/store.js'
import { notJoined, notOpen, refusalError } from '../room-access.js'
import { roomKey, type ChatSocket } from '../types.js'

/**
 * `message:send`, `history` and `message:delete`. A send is acked only after its transaction committed; a resend
 * of the same clientMsgId by the same user in the same room answers the first id and seq and
 * stores and broadcasts nothing.
 *
 * Sends are pipelined: once a send's write is queued to the store (behind the socket's earlier
 * writes, so their order is kept) the socket's next event runs; the ack follows the commit.
 *
 * Past saturation a send is refused (E_OVERLOADED with retryAfterMs) rather than queued: when the
 * event loop is shedding, when the store's backlog is full, and when sends already wait too long
 * (this one waited in its socket's queue, or the oldest write of this worker still waits for its
 * commit, longer than SHED_SEND_WAIT_MS). Waiting is where overload shows first, while each
 * event-loop turn can stay short; so admitted sends keep a bounded latency and the excess is told.
 */

/** Why a send should be refused now, or undefined to admit it. */
function overloaded (context: RealtimeContext, receivedAt: number): string | undefined {
  if (context.shedder.refuseSends) return 'event-loop'
  if (context.writer.backlog >= context.config.STORE_MAX_BACKLOG) return 'backlog'
  const maxWaitMs = context.config.SHED_SEND_WAIT_MS
  if (maxWaitMs > 0 && (performance.now() - receivedAt > maxWaitMs || context.writer.oldestWaitMs() > maxWaitMs)) return 'wait'
  return undefined
}

export function sendMessage (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown, receivedAt: number): Promise<Pipelined> => {
    const { room: name, text, clientMsgId } = parse(messageSendPayload, payload)
    const room = socket.data.rooms.get(name)
    if (room === undefined) {
      // Validation comes before membership: a text that is not valid is E_VALIDATION either way.
      const checked = await context.pool.checkText(text)
      if (!checked.ok && checked.code === 'E_VALIDATION') throw new ChatError('E_VALIDATION', checked.message)
      throw await notJoined(context, socket, name, 'sending to it')
    }
    if (context.draining) throw new ChatError('E_OVERLOADED', 'server restarting, retry after reconnecting', { retryAfterMs: context.overloadRetryAfterMs() })
    const reason = overloaded(context, receivedAt)
    if (reason !== undefined) {
      context.metrics.shed.inc({ what: 'send', reason })
      throw new ChatError('E_OVERLOADED', 'server busy, retry later', { retryAfterMs: context.overloadRetryAfterMs() })
    }
    await context.limits.message(socket.data.userId, context.presence.onlyHere(socket.data.userId))

    const checked = await context.pool.checkText(text)
    if (!checked.ok) throw new ChatError(checked.code, checked.message)

    const { userId, username } = socket.data
    // Queued to the store now, behind this socket's earlier writes (order kept); acked on commit.
    const pending = context.writer.run({ kind: 'append', roomId: room.id, room: name, userId, username, text: checked.text, clientMsgId }).then(
      (result): Ack<MessageSendOk> => {
        if (result.duplicate) context.metrics.messagesDuplicate.inc()
        else context.metrics.messagesIn.inc()
        // The store broadcasts the committed message to every worker (this one included), whose
        // room feeds deliver it in seq order; the sender receives its own message that way too.
        return { ok: true, id: result.id, seq: result.seq, ts: result.ts }
      },
      (error: unknown): Ack<MessageSendOk> => {
        if (error instanceof Error && error.message.startsWith(STORE_UNAVAILABLE)) {
          // Never a false ack: the client resends with the same clientMsgId once the store is back.
          context.metrics.shed.inc({ what: 'send', reason: 'store' })
          return errorAck(new ChatError('E_OVERLOADED', 'the store is unreachable; retry with the same clientMsgId', { retryAfterMs: context.overloadRetryAfterMs() }))
        }
        context.logger.error({ err: error, room: name }, 'message not stored')
        return errorAck(new ChatError('E_INTERNAL', 'message could not be stored; retry with the same clientMsgId'))
      })
    return { pending }
  }
}

export function readHistory (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack<HistoryOk>> => {
    const { room: name, before, limit } = parse(historyPayload, payload)
    const room = socket.data.rooms.get(name)
    if (room === undefined) throw await notJoined(context, socket, name, 'reading it')
    const page = await context.reader.before(room, before, limit ?? HISTORY_DEFAULT_LIMIT)
    const encoded = await context.pool.serializePage(page.messages)
    const messages = encoded === undefined ? page.messages : new PreEncodedJson(encoded) as unknown as Message[]
    return { ok: true, messages, hasMore: page.hasMore }
  }
}

/**
 * `message:delete` `{ room, id }` → `{ ok }`, by a member: its author, or the room's owner or a
 * moderator (checked by the store under its write lock). The message stays as a tombstone (text
 * '', deleted) so seq stays gapless; the room's sockets on every worker hear `message:deleted`.
 */
export function deleteMessage (context: Pick<RealtimeContext, 'io' | 'rooms' | 'reader' | 'writer' | 'crossVm'>) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack> => {
    const { room: name, id } = parse(messageDeletePayload, payload)
    const room = await context.rooms.find(name)
    const actorId = socket.data.userId
    if (room === undefined || await context.reader.role(room.id, actorId) === undefined) {
      if (room?.visibility === 'private') throw notOpen(name)
      throw new ChatError('E_NOT_MEMBER', `only members of ${name} may delete its messages`)
    }
    const result = await context.writer.run({ kind: 'message-delete', roomId: room.id, id, actorId })
    if (result.refusal !== undefined) throw refusalError(result.refusal)
    if (result.changed && result.seq !== undefined) {
      const event = { room: name, id, seq: result.seq }
      context.io.to(roomKey(name)).emit('message:deleted', event)
      context.crossVm?.relay({ room: name, event: 'message:deleted', payload: event })
    }
    return { ok: true }
  }
}
