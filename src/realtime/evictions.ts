import type { RoomRemovedEvent } from '../protocol/events.js'
import type { RealtimeContext } from './context.js'
import { leave } from './handlers/rooms.js'

/**
 * Taking a kicked or banned user out of a room on every worker. The store has already ended the
 * membership (so no connection can join again); this takes every connection of the user out of
 * the room now, on this worker and, through the cluster adapter, on every other one, and tells
 * each `room:removed`. The moderator's ack waits for every worker's answer, so once it
 * arrives no connection of the user receives the room's messages.
 */

export interface Eviction extends RoomRemovedEvent {
  userId: string
}

type EvictionContext = Pick<RealtimeContext, 'io' | 'logger' | 'presence' | 'feeds' | 'crossVm'>

/**
 * Takes the user's local connections out of the room and tells each of them, in the room or not
 * (another tab shows the room in its list); returns how many were told. A scan of the worker's
 * connections: moderation is rare, and no per-user index costs memory on every connection.
 */
export function evictLocal (context: EvictionContext, eviction: Eviction): number {
  let told = 0
  for (const socket of context.io.of('/').sockets.values()) {
    if (socket.data.userId !== eviction.userId) continue
    leave(context, socket, eviction.room)
    socket.emit('room:removed', { room: eviction.room, reason: eviction.reason })
    told++
  }
  return told
}

/** Evicts on every worker; resolves once each has answered (or the adapter's wait ran out). */
export async function evict (context: EvictionContext, eviction: Eviction): Promise<void> {
  evictLocal(context, eviction)
  // Other VMs: through Redis, not waited for (their sockets of the user leave as it arrives;
  // the membership is gone from the shared store already, so none can join again).
  context.crossVm?.evict(eviction)
  try {
    await context.io.serverSideEmitWithAck('room:evict', eviction)
  } catch (error) {
    // A worker that did not answer (it is exiting) has its sockets closed anyway; the membership
    // is gone, so none of them can rejoin.
    context.logger.warn({ err: error, room: eviction.room }, 'not every worker confirmed an eviction')
  }
}
