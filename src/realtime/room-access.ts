import { ChatError } from '../errors.js'
import type { CreationQuota, Refusal } from '../store/write-ops.js'
import type { RealtimeContext } from './context.js'
import type { ChatSocket } from './types.js'

/**
 * Who may do what in a room, as the handlers ask it. A private room answers everyone outside it
 * with the same E_FORBIDDEN, whatever the reason (never created as private, banned, kicked), so
 * the answer says nothing more about the room.
 */

/** The one refusal of a private room to anyone who is not a member. */
export function notOpen (room: string): ChatError {
  return new ChatError('E_FORBIDDEN', `room ${room} is not open to you`)
}

/** A refusal the store decided under its write lock, as the ChatError the handler throws. */
export function refusalError (refusal: Refusal): ChatError {
  return refusal.retryAfterMs === undefined
    ? new ChatError(refusal.code, refusal.message)
    : new ChatError(refusal.code, refusal.message, { retryAfterMs: refusal.retryAfterMs })
}

/**
 * The error for an event about a room this socket has not joined: E_FORBIDDEN for a private room
 * the user is not a member of, E_NOT_MEMBER otherwise (as in 1.0). Only ever on the error path.
 */
export async function notJoined (context: Pick<RealtimeContext, 'rooms' | 'reader'>, socket: ChatSocket, room: string, doing: string): Promise<ChatError> {
  const found = await context.rooms.find(room)
  if (found !== undefined && found.visibility === 'private' && await context.reader.role(found.id, socket.data.userId) === undefined) return notOpen(room)
  return new ChatError('E_NOT_MEMBER', `join ${room} before ${doing}`)
}

/** The room-creation quotas of the configuration, as the store checks them. */
export function creationQuota (context: Pick<RealtimeContext, 'config'>): CreationQuota {
  return { perHour: context.config.ROOMS_CREATED_PER_HOUR, max: context.config.ROOMS_CREATED_MAX }
}
