import type { ErrorBody } from '../errors.js'
import type {
  AuthRefreshPayload,
  DmOpenPayload,
  HistoryPayload,
  Member,
  MemberRole,
  Message,
  MessageDeletePayload,
  MessageSendPayload,
  RoomCreatePayload,
  RoomJoinPayload,
  RoomLeavePayload,
  RoomMemberPayload,
  RoomRolePayload,
  TypingPayload,
  Visibility
} from './schemas.js'

/**
 * Socket.IO event maps of PROTOCOL.md, shared by the server, the client library and the load
 * tools. Every client → server event takes one object and an ack as its last argument.
 */

export type AckError = { ok: false, error: ErrorBody }
export type Ack<T extends object = object> = ({ ok: true } & T) | AckError
export type AckCallback<T extends object = object> = (response: Ack<T>) => void

export interface RoomJoinOk {
  room: string
  seq: number
  missed: Message[]
  hasMore: boolean
  members: Member[]
  /** Version 1.1 additions: the room's visibility, the caller's role, its owner and moderators. */
  visibility?: Visibility
  role?: MemberRole
  staff?: StaffMember[]
  /** A direct-message room. */
  direct?: boolean
}

/** The owner or a moderator of a room. */
export interface StaffMember {
  userId: string
  role: 'owner' | 'moderator'
}

export interface RoomCreateOk {
  room: string
  visibility: Visibility
}

export interface DmOpenOk {
  room: string
}

export interface MessageSendOk {
  id: string
  seq: number
  ts: number
}

export interface HistoryOk {
  messages: Message[]
  hasMore: boolean
}

export interface AuthRefreshOk {
  expiresAt: string
}

export interface ClientToServerEvents {
  'room:join': (payload: RoomJoinPayload, ack: AckCallback<RoomJoinOk>) => void
  'room:leave': (payload: RoomLeavePayload, ack: AckCallback) => void
  'message:send': (payload: MessageSendPayload, ack: AckCallback<MessageSendOk>) => void
  history: (payload: HistoryPayload, ack: AckCallback<HistoryOk>) => void
  typing: (payload: TypingPayload, ack: AckCallback) => void
  /** Addition to PROTOCOL.md v1: replaces the socket's identity token before it expires. */
  'auth:refresh': (payload: AuthRefreshPayload, ack: AckCallback<AuthRefreshOk>) => void
  'room:create': (payload: RoomCreatePayload, ack: AckCallback<RoomCreateOk>) => void
  'room:invite': (payload: RoomMemberPayload, ack: AckCallback) => void
  'room:kick': (payload: RoomMemberPayload, ack: AckCallback) => void
  'room:ban': (payload: RoomMemberPayload, ack: AckCallback) => void
  'room:unban': (payload: RoomMemberPayload, ack: AckCallback) => void
  'room:role': (payload: RoomRolePayload, ack: AckCallback) => void
  'dm:open': (payload: DmOpenPayload, ack: AckCallback<DmOpenOk>) => void
  'message:delete': (payload: MessageDeletePayload, ack: AckCallback) => void
}

export interface PresenceEvent {
  room: string
  userId: string
  username: string
  status: 'online' | 'offline'
}

export interface TypingEvent {
  room: string
  userId: string
  username: string
  typing: boolean
}

/** Version 1.1: this user's connections were taken out of the room (and membership ended). */
export interface RoomRemovedEvent {
  room: string
  reason: 'kicked' | 'banned'
}

export interface MessageDeletedEvent {
  room: string
  id: string
  seq: number
}

/** Addition to PROTOCOL.md 1.1: a member's role changed (sent to the room's sockets). */
export interface RoleEvent {
  room: string
  userId: string
  role: MemberRole
}

export interface ServerToClientEvents {
  message: (message: Message) => void
  presence: (event: PresenceEvent) => void
  typing: (event: TypingEvent) => void
  'room:removed': (event: RoomRemovedEvent) => void
  'message:deleted': (event: MessageDeletedEvent) => void
  'room:role': (event: RoleEvent) => void
}

export const CLIENT_EVENTS = [
  'room:join', 'room:leave', 'message:send', 'history', 'typing', 'auth:refresh',
  'room:create', 'room:invite', 'room:kick', 'room:ban', 'room:unban', 'room:role', 'dm:open', 'message:delete'
] as const
export type ClientEventName = typeof CLIENT_EVENTS[number]

/** The `connect_error` data of a refused handshake. */
export interface ConnectErrorData {
  code: 'E_UNAUTHORIZED' | 'E_OVERLOADED'
  retryAfterMs?: number
}
