import type { MessageDeletedEvent, PresenceEvent, RoleEvent, RoomRemovedEvent, TypingEvent } from '../protocol/events.js'
import type { Member, Message } from '../protocol/schemas.js'
import type { ClientError, ClientErrorCode } from './errors.js'
import type { RoomInfo } from './room-feed.js'
import type { Session } from './session.js'

/** What a ChatClient tells its app, as one typed event map. */

/**
 * - connecting: the first connection is being made;
 * - online: connected (rooms then re-sync by themselves);
 * - reconnecting: connection lost or refused, a retry is planned;
 * - offline: not connected and no retry planned (closed, or sign-in needed).
 */
export type ConnectionState = 'connecting' | 'online' | 'reconnecting' | 'offline'

export interface ConnectionChange {
  state: ConnectionState
  /** Why the connection went down or was refused, as socket.io-client or the server said it. */
  reason?: string
  /** The code of a handshake the server refused (E_OVERLOADED…). */
  code?: ClientErrorCode
  /** When the client itself schedules the next try (a refused handshake), its delay. */
  retryInMs?: number
}

interface OutgoingMessage {
  clientMsgId: string
  room: string
  text: string
}

/** A send waits (first try, or a retry after `retryInMs` because of `error`). */
export interface SendPending extends OutgoingMessage {
  state: 'pending'
  /** Tries made so far (0 before the first). */
  attempt: number
  retryInMs?: number
  error?: ClientError
}

/** The server stored the message (its ack came). */
export interface SendDelivered extends OutgoingMessage {
  state: 'delivered'
  id: string
  seq: number
  ts: number
}

/** The send gave up: a final error, or every retry failed. Sending again with the same clientMsgId is safe. */
export interface SendFailed extends OutgoingMessage {
  state: 'failed'
  error: ClientError
}

export type SendStatus = SendPending | SendDelivered | SendFailed
export type SendOutcome = SendDelivered | SendFailed

/** A room (re)joined on the current connection, with what was recovered. */
export interface RoomSynced {
  room: string
  /** The room's last seq known to this client after the join. */
  lastSeq: number
  /** Messages delivered by this sync (the missed ones). */
  recovered: number
  members: Member[]
  /** Visibility, this user's role, owner and moderators (1.1). */
  info: RoomInfo
}

export interface HistoryPage {
  messages: Message[]
  hasMore: boolean
}

// A type alias, not an interface: component-emitter's event maps need an index signature.
export type ChatClientEvents = {
  state: (change: ConnectionChange) => void
  /** A new token replaced the old one (an app that keeps the token should store this one). */
  session: (session: Session) => void
  synced: (event: RoomSynced) => void
  /** Every message of a joined room, exactly once, in seq order (older history comes from loadOlder). */
  message: (message: Message) => void
  /** The room's online members after a join or a presence change. */
  members: (room: string, members: Member[]) => void
  presence: (event: PresenceEvent) => void
  typing: (event: TypingEvent) => void
  send: (status: SendStatus) => void
  /** This user was kicked or banned from a room: the client no longer keeps it joined. */
  removed: (event: RoomRemovedEvent) => void
  /** A message was deleted; history now holds its tombstone. */
  deleted: (event: MessageDeletedEvent) => void
  /** A member's role changed in a joined room. */
  role: (event: RoleEvent) => void
  /** A failure not tied to one send: a refused join, a failed sign-in renewal. */
  error: (error: ClientError & { room?: string }) => void
}

export type Emit = <E extends keyof ChatClientEvents>(event: E, ...args: Parameters<ChatClientEvents[E]>) => void
