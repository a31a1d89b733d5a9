import { ChatError } from '../../errors.js'
import type { Ack, HistoryOk, MessageSendOk } from '../../protocol/events.js'
import { HISTORY_DEFAULT_LIMIT, historyPayload, messageSendPayload, type Message } from '../../protocol/schemas.js'
import type { RealtimeContext } from '../context.js'
import { parse } from '../dispatch.js'
import { PreEncodedJson } from '../parser.js'
import type { ChatSocket } from '../types.js'

/**
 * `message:send` and `history`. A send is acked only after its transaction committed; a resend
 * of the same clientMsgId by the same user in the same room answers the first id and seq and
 * stores and broadcasts nothing.
 *
 * Past saturation a send is refused (E_OVERLOADED with retryAfterMs) rather than queued: when the
 * event loop is shedding, when the store's backlog is full, and when writes already wait too long
 * (the oldest write of this worker still waits for its commit after SHED_SEND_WAIT_MS). Waiting
 * is where an overloaded store path shows first, while each event-loop turn can stay short; so
 * admitted sends keep a bounded latency and the excess is told. (A client's own burst waits in
 * its socket's queue, one commit after another, and is not counted: that is not overload.)
 */

/** Why a send should be refused now, or undefined to admit it. */
function overloaded (context: RealtimeContext): string | undefined {
  if (context.shedder.refuseSends) return 'event-loop'
  if (context.writer.backlog >= context.config.STORE_MAX_BACKLOG) return 'backlog'
  const maxWaitMs = context.config.SHED_SEND_WAIT_MS
  if (maxWaitMs > 0 && context.writer.oldestWaitMs() > maxWaitMs) return 'wait'
  return undefined
}

export function sendMessage (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack<MessageSendOk>> => {
    const { room: name, text, clientMsgId } = parse(messageSendPayload, payload)
    const room = socket.data.rooms.get(name)
    if (room === undefined) throw new ChatError('E_NOT_MEMBER', `join ${name} before sending to it`)
    if (context.draining) throw new ChatError('E_OVERLOADED', 'server restarting, retry after reconnecting', { retryAfterMs: context.overloadRetryAfterMs() })
    const reason = overloaded(context)
    if (reason !== undefined) {
      context.metrics.shed.inc({ what: 'send', reason })
      throw new ChatError('E_OVERLOADED', 'server busy, retry later', { retryAfterMs: context.overloadRetryAfterMs() })
    }
    await context.limits.message(socket.data.userId, context.presence.onlyHere(socket.data.userId))

    const checked = await context.pool.checkText(text)
    if (!checked.ok) throw new ChatError(checked.code, checked.message)

    const { userId, username } = socket.data
    let result
    try {
      result = await context.writer.run({ kind: 'append', roomId: room.id, room: name, userId, username, text: checked.text, clientMsgId })
    } catch (error) {
      context.logger.error({ err: error, room: name }, 'message not stored')
      throw new ChatError('E_INTERNAL', 'message could not be stored; retry with the same clientMsgId')
    }
    if (result.duplicate) context.metrics.messagesDuplicate.inc()
    else context.metrics.messagesIn.inc()
    // The store broadcasts the committed message to every worker (this one included), whose room
    // feeds deliver it in seq order; the sender receives its own message that way too.
    return { ok: true, id: result.id, seq: result.seq, ts: result.ts }
  }
}

export function readHistory (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack<HistoryOk>> => {
    const { room: name, before, limit } = parse(historyPayload, payload)
    const room = socket.data.rooms.get(name)
    if (room === undefined) throw new ChatError('E_NOT_MEMBER', `join ${name} before reading it`)
    const page = context.reader.before(room, before, limit ?? HISTORY_DEFAULT_LIMIT)
    const encoded = await context.pool.serializePage(page.messages)
    const messages = encoded === undefined ? page.messages : new PreEncodedJson(encoded) as unknown as Message[]
    return { ok: true, messages, hasMore: page.hasMore }
  }
}
