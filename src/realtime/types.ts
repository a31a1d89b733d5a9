import type { Server, Socket } from 'socket.io'
import type { ClientToServerEvents, ServerToClientEvents } from '../protocol/events.js'
import type { RoomInfo } from '../store/store.js'
import type { Eviction } from './evictions.js'
import type { PresenceUpdate } from './presence.js'

/**
 * Events between workers, carried by the cluster adapter's serverSideEmit (through the primary).
 * Committed messages do not go this way: the primary's store broadcasts them (cluster/messages.ts).
 */
export interface InterServerEvents {
  'presence:update': (updates: PresenceUpdate[]) => void
  /** A worker that just started asks every other worker for its presence counts. */
  'presence:sync': (workerId: string) => void
  /** A user was kicked or banned: take their connections out of the room; answers how many. */
  'room:evict': (eviction: Eviction, done: (evicted: number) => void) => void
}

/** What a connection carries from its handshake on. */
export interface SocketData {
  userId: string
  username: string
  expiresAtMs: number
  /** The token's revocation key (Identity.revocationKey): a revocation of it disconnects the socket. */
  tokenKey: string
  /** Rooms this socket joined, by name. */
  rooms: Map<string, RoomInfo>
  /** Rooms where this socket last said it is typing. */
  typing: Set<string>
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>
export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>

/** Socket.IO room key of a chat room (prefixed so it can never equal a socket id). */
export function roomKey (room: string): string {
  return `r:${room}`
}
