import type { ErrorBody } from '../errors.js'
import type {
  AuthRefreshPayload,
  HistoryPayload,
  Member,
  Message,
  MessageSendPayload,
  RoomJoinPayload,
  RoomLeavePayload,
  TypingPayload
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

export interface ServerToClientEvents {
  message: (message: Message) => void
  presence: (event: PresenceEvent) => void
  typing: (event: TypingEvent) => void
}

export const CLIENT_EVENTS = ['room:join', 'room:leave', 'message:send', 'history', 'typing', 'auth:refresh'] as const
export type ClientEventName = typeof CLIENT_EVENTS[number]

/** The `connect_error` data of a refused handshake. */
export interface ConnectErrorData {
  code: 'E_UNAUTHORIZED' | 'E_OVERLOADED'
  retryAfterMs?: number
}
