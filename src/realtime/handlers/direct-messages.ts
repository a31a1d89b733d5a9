import { createHash } from 'node:crypto'
import { ChatError } from '../../errors.js'
import type { Ack, DmOpenOk } from '../../protocol/events.js'
import { DIRECT_ROOM_PREFIX, dmOpenPayload } from '../../protocol/schemas.js'
import type { RealtimeContext } from '../context.js'
import { parse } from '../dispatch.js'
import { refusalError } from '../room-access.js'
import type { ChatSocket } from '../types.js'

/**
 * `dm:open` `{ userId }` → `{ ok, room }`: the direct-message room of two users, private, with
 * exactly those two members and no moderation. Its name is derived from the pair, so either side
 * opening it finds the same room (and no one else can create a room of that name first: the
 * prefix is reserved).
 */

/** `dm-` + 40 hex digits of SHA-256 over the two userIds in sorted order: fits the room pattern. */
export function directRoomName (userId: string, otherUserId: string): string {
  const pair = [userId, otherUserId].sort()
  return DIRECT_ROOM_PREFIX + createHash('sha256').update(pair.join('\n')).digest('hex').slice(0, 40)
}

export function openDirect (context: Pick<RealtimeContext, 'writer' | 'rooms'>) {
  return async (socket: ChatSocket, payload: unknown): Promise<Ack<DmOpenOk>> => {
    const { userId: otherUserId } = parse(dmOpenPayload, payload)
    const { userId } = socket.data
    if (otherUserId === userId) throw new ChatError('E_VALIDATION', 'userId: a direct-message room needs another user')
    const name = directRoomName(userId, otherUserId)
    const result = await context.writer.run({ kind: 'dm-open', name, userId, otherUserId })
    if (result.refusal !== undefined) throw refusalError(result.refusal)
    const room = result.room as NonNullable<typeof result.room>
    context.rooms.remember({ id: room.id, name, visibility: room.visibility, direct: room.direct })
    return { ok: true, room: name }
  }
}
