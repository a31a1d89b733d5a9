/**
 * The chat client library: a typed, framework-free client of the chat protocol (PROTOCOL.md)
 * for browsers and Node, sharing its event maps with the server.
 */
export { ChatClient, type ChatClientOptions, type RoomMembership } from './chat-client.js'
export type { ChatClientEvents, ConnectionChange, ConnectionState, HistoryPage, RoomSynced, SendDelivered, SendFailed, SendOutcome, SendPending, SendStatus } from './client-events.js'
export { ChatClientError, type ClientError, type ClientErrorCode } from './errors.js'
export { newClientMsgId } from './outbox.js'
export { signIn, signUp, type Account, type Session } from './session.js'
export type { RoomInfo } from './room-feed.js'
export type { Member, Message } from '../protocol/schemas.js'
export type { MessageDeletedEvent, PresenceEvent, RoleEvent, RoomRemovedEvent, StaffMember, TypingEvent } from '../protocol/events.js'
export { ROOM_PATTERN, TEXT_MAX_CODE_POINTS, USERNAME_PATTERN } from '../protocol/limits.js'
