import { ChatError } from '../../errors.js'
import type { Ack } from '../../protocol/events.js'
import { typingPayload } from '../../protocol/schemas.js'
import type { RealtimeContext } from '../context.js'
import { parse } from '../dispatch.js'
import { notJoined } from '../room-access.js'
import { roomKey, type ChatSocket } from '../types.js'

/**
 * `typing`: relayed to the room's other sockets on every worker, never stored. Throttled per
 * user and room, and the first thing dropped under load; a socket that leaves while typing
 * sends `typing: false` for it.
 */

export function setTyping (context: RealtimeContext) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack> => {
    const { room, typing } = parse(typingPayload, payload)
    if (!socket.data.rooms.has(room)) throw await notJoined(context, socket, room, 'typing in it')
    if (context.shedder.dropTyping) {
      context.metrics.shed.inc({ what: 'typing', reason: 'event-loop' })
      throw new ChatError('E_OVERLOADED', 'typing paused while the server is busy', { retryAfterMs: context.overloadRetryAfterMs() })
    }
    // Stopping is never throttled: a stale "typing…" is worse than an extra event.
    if (typing) {
      const retryAfterMs = await context.limits.typing(socket.data.userId, room)
      if (retryAfterMs !== undefined) throw new ChatError('E_RATE_LIMITED', 'typing updates too frequent', { retryAfterMs })
      socket.data.typing.add(room)
    } else {
      if (!socket.data.typing.delete(room)) return { ok: true }
    }
    const event = { room, userId: socket.data.userId, username: socket.data.username, typing }
    socket.to(roomKey(room)).emit('typing', event)
    context.crossVm?.relay({ room, event: 'typing', payload: event })
    return { ok: true }
  }
}

/** Tells the room this socket stopped typing, if it said it was. */
export function stopTyping (context: Pick<RealtimeContext, 'crossVm'>, socket: ChatSocket, room: string): void {
  if (!socket.data.typing.delete(room)) return
  const event = { room, userId: socket.data.userId, username: socket.data.username, typing: false }
  socket.to(roomKey(room)).emit('typing', event)
  context.crossVm?.relay({ room, event: 'typing', payload: event })
}
