import type { RoomRemovedEvent } from '../protocol/events.js'
import type { RealtimeContext } from './context.js'
import { leave } from './handlers/rooms.js'
import { roomKey } from './types.js'

/**
 * Taking a kicked or banned user out of a room on every worker. The store has already ended the
 * membership (so no connection can join again); this takes every connection of the user that is
 * in the room out of it now, on this worker and, through the cluster adapter, on every other one,
 * and tells each `room:removed`. The moderator's ack waits for every worker's answer, so once it
 * arrives no connection of the user receives the room's messages.
 */

export interface Eviction extends RoomRemovedEvent {
  userId: string
}

type EvictionContext = Pick<RealtimeContext, 'io' | 'logger' | 'presence' | 'feeds'>

/** Takes the user's local connections out of the room; returns how many there were. */
export function evictLocal (context: EvictionContext, eviction: Eviction): number {
  const nsp = context.io.of('/')
  const ids = nsp.adapter.rooms.get(roomKey(eviction.room))
  if (ids === undefined) return 0
  let evicted = 0
  for (const id of [...ids]) {
    const socket = nsp.sockets.get(id)
    if (socket?.data.userId !== eviction.userId) continue
    leave(context, socket, eviction.room)
    socket.emit('room:removed', { room: eviction.room, reason: eviction.reason })
    evicted++
  }
  return evicted
}

/** Evicts on every worker; resolves once each has answered (or the adapter's wait ran out). */
export async function evict (context: EvictionContext, eviction: Eviction): Promise<void> {
  evictLocal(context, eviction)
  try {
    await context.io.serverSideEmitWithAck('room:evict', eviction)
  } catch (error) {
    // A worker that did not answer (it is exiting) has its sockets closed anyway; the membership
    // is gone, so none of them can rejoin.
    context.logger.warn({ err: error, room: eviction.room }, 'not every worker confirmed an eviction')
  }
}
