import { z } from 'zod'
import {
  CLIENT_MSG_ID_PATTERN,
  HISTORY_MAX_LIMIT,
  ROOM_PATTERN,
  TEXT_MAX_CODE_POINTS,
  TEXT_MAX_RAW_UNITS,
  USERNAME_PATTERN
} from './limits.js'

/**
 * The wire contract of PROTOCOL.md as zod schemas: the single source of the payload shapes.
 * Types are inferred from these (z.infer) and shared by the server, the client library and the
 * load tools. Structural checks only; Unicode-level text rules live in src/text/.
 */

export * from './limits.js'

const safeIntMin0 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

export const roomName = z.string().regex(ROOM_PATTERN, 'room must match ^[a-z0-9][a-z0-9_-]{0,63}$')
export const username = z.string().regex(USERNAME_PATTERN, 'username must match ^[A-Za-z0-9_.-]{1,32}$')
export const clientMsgId = z.string().regex(CLIENT_MSG_ID_PATTERN, 'clientMsgId must be 8-64 characters of [A-Za-z0-9_-]')

export const roomJoinPayload = z.object({
  room: roomName,
  since: safeIntMin0.optional()
})

export const roomLeavePayload = z.object({
  room: roomName
})

export const messageSendPayload = z.object({
  room: roomName,
  text: z.string().max(TEXT_MAX_RAW_UNITS, `text must be at most ${TEXT_MAX_CODE_POINTS} characters`),
  clientMsgId
})

export const historyPayload = z.object({
  room: roomName,
  before: safeIntMin0.optional(),
  limit: z.number().int().min(1).max(HISTORY_MAX_LIMIT).optional()
})

export const typingPayload = z.object({
  room: roomName,
  typing: z.boolean()
})

/** An addition to PROTOCOL.md: swap the socket's token for a fresh one before it expires. */
export const authRefreshPayload = z.object({
  token: z.string().min(1).max(4096)
})

/** Version 1.1: a room's visibility, and the roles of its members. */
export const visibility = z.enum(['public', 'private'])
export const memberRole = z.enum(['owner', 'moderator', 'member'])
/** A userId as the server issues them (a UUID); anything else cannot name a user. */
export const userIdSchema = z.string().min(1).max(128)

export const roomCreatePayload = z.object({
  room: roomName,
  visibility: visibility.optional()
})

/** `room:invite`, `room:kick`, `room:ban`, `room:unban`: one room, one user. */
export const roomMemberPayload = z.object({
  room: roomName,
  userId: userIdSchema
})

export const roomRolePayload = z.object({
  room: roomName,
  userId: userIdSchema,
  role: z.enum(['moderator', 'member'])
})

export const dmOpenPayload = z.object({
  userId: userIdSchema
})

export const messageDeletePayload = z.object({
  room: roomName,
  id: z.string().min(1).max(64)
})

/** 8–128 characters (UTF-16 code units, as JavaScript counts them). */
export const password = z.string().min(8, 'password must be 8-128 characters').max(128, 'password must be 8-128 characters')

/** `POST /api/sessions`: with a password an account's sign-in, without one a guest's. */
export const sessionRequestBody = z.object({
  username,
  password: password.optional()
})

/** `POST /api/users`: registers an account. */
export const userRequestBody = z.object({
  username,
  password
})

export const messagesQuery = z.object({
  before: z.coerce.number().pipe(safeIntMin0).optional(),
  after: z.coerce.number().pipe(safeIntMin0).optional(),
  limit: z.coerce.number().pipe(z.number().int().min(1).max(HISTORY_MAX_LIMIT)).optional()
})

export type RoomJoinPayload = z.infer<typeof roomJoinPayload>
export type RoomLeavePayload = z.infer<typeof roomLeavePayload>
export type MessageSendPayload = z.infer<typeof messageSendPayload>
export type HistoryPayload = z.infer<typeof historyPayload>
export type TypingPayload = z.infer<typeof typingPayload>
export type AuthRefreshPayload = z.infer<typeof authRefreshPayload>
export type Visibility = z.infer<typeof visibility>
export type MemberRole = z.infer<typeof memberRole>
export type RoomCreatePayload = z.infer<typeof roomCreatePayload>
export type RoomMemberPayload = z.infer<typeof roomMemberPayload>
export type RoomRolePayload = z.infer<typeof roomRolePayload>
export type DmOpenPayload = z.infer<typeof dmOpenPayload>
export type MessageDeletePayload = z.infer<typeof messageDeletePayload>
export type SessionRequestBody = z.infer<typeof sessionRequestBody>
export type UserRequestBody = z.infer<typeof userRequestBody>
export type MessagesQuery = z.infer<typeof messagesQuery>

/** A stored, broadcast chat message. `ts` is epoch milliseconds. */
export interface Message {
  id: string
  room: string
  seq: number
  userId: string
  username: string
  text: string
  ts: number
  clientMsgId: string
  /** Version 1.1: a deleted message keeps its seq with empty text and this flag. */
  deleted?: true
}

export interface Member {
  userId: string
  username: string
}

/** Formats the first zod issue as a short human message: `room: must match …`. */
export function describeIssue (error: z.ZodError): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'invalid payload'
  const path = issue.path.length > 0 ? issue.path.join('.') : 'payload'
  return `${path}: ${issue.message}`
}
