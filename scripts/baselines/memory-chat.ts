import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createSigner, createVerifier } from 'fast-jwt'
import type { Member, Message } from '../../src/protocol/schemas.js'

/**
 * The chat model both reference servers share, kept as small as the seed's kind of app: users,
 * rooms with a per-room seq and their latest messages, who is online where. Everything lives in
 * memory: nothing is durable, nothing is limited, and no payload is checked beyond its shape.
 * The HTTP side signs users in (the same HS256 token shape as ours) and reports memory.
 */

/** Messages a room keeps for `room:join { since }` and `history` (older ones are dropped). */
export const ROOM_HISTORY = 2000
const TOKEN_TTL_S = 24 * 3600
const ROOM = /^[a-z0-9][a-z0-9_-]{0,63}$/
const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/

export interface Identity {
  userId: string
  username: string
}

export type ErrorAck = { ok: false, error: { code: string, message: string } }

export interface JoinAnswer {
  ok: true
  room: string
  seq: number
  missed: Message[]
  hasMore: boolean
  members: Member[]
}

interface Room {
  seq: number
  messages: Message[]
  /** Open connections per user in the room. */
  online: Map<string, { username: string, connections: number }>
}

export function errorAck (code: string, message: string): ErrorAck {
  return { ok: false, error: { code, message } }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

export class MemoryChat {
  readonly #rooms = new Map<string, Room>()
  readonly #users = new Map<string, string>()
  readonly #sign: (payload: Record<string, unknown>) => string
  readonly #verify: (token: string) => Record<string, unknown>

  constructor (secret: string) {
    this.#sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: TOKEN_TTL_S * 1000 })
    this.#verify = createVerifier({ key: secret, algorithms: ['HS256'], cache: 10_000 })
  }

  signIn (username: string): { token: string, userId: string, username: string, expiresAt: string } {
    let userId = this.#users.get(username)
    if (userId === undefined) {
      userId = randomUUID()
      this.#users.set(username, userId)
    }
    return { token: this.#sign({ sub: userId, name: username }), userId, username, expiresAt: new Date(Date.now() + TOKEN_TTL_S * 1000).toISOString() }
  }

  /** The identity in a valid token, or undefined. */
  verify (token: unknown): Identity | undefined {
    if (typeof token !== 'string') return undefined
    try {
      const payload = this.#verify(token)
      return typeof payload.sub === 'string' && typeof payload.name === 'string' ? { userId: payload.sub, username: payload.name } : undefined
    } catch {
      return undefined
    }
  }

  /**
   * Joins a room (again, for a connection already in it: then only the page of missed messages
   * is new); `cameOnline` is true when this is the user's first connection in the room.
   */
  join (payload: unknown, who: Identity, joined: ReadonlySet<string>): { answer: JoinAnswer, cameOnline: boolean } | ErrorAck {
    if (!isObject(payload) || typeof payload.room !== 'string' || !ROOM.test(payload.room)) return errorAck('E_VALIDATION', 'room: invalid')
    const since = payload.since
    if (since !== undefined && (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0)) return errorAck('E_VALIDATION', 'since: invalid')
    let room = this.#rooms.get(payload.room)
    if (room === undefined) {
      room = { seq: 0, messages: [], online: new Map() }
      this.#rooms.set(payload.room, room)
    }
    const first = room.messages[0]?.seq ?? room.seq + 1
    let missed: Message[]
    let hasMore = false
    if (since === undefined) {
      missed = room.messages.slice(-50)
    } else {
      const start = Math.max(0, since + 1 - first)
      missed = room.messages.slice(start, start + 100)
      hasMore = start + 100 < room.messages.length
    }
    const already = joined.has(payload.room)
    const entry = room.online.get(who.userId)
    if (!already) {
      if (entry === undefined) room.online.set(who.userId, { username: who.username, connections: 1 })
      else entry.connections++
    }
    const members = [...room.online].map(([userId, { username }]) => ({ userId, username }))
    return { answer: { ok: true, room: payload.room, seq: room.seq, missed, hasMore, members }, cameOnline: !already && entry === undefined }
  }

  /** Leaves a room; true when the user has no connection left in it (went offline there). */
  leave (roomName: string, who: Identity): boolean {
    const entry = this.#rooms.get(roomName)?.online.get(who.userId)
    if (entry === undefined) return false
    if (--entry.connections > 0) return false
    this.#rooms.get(roomName)?.online.delete(who.userId)
    return true
  }

  /** Stores a message in memory and returns it (the caller acks and broadcasts it). */
  append (payload: unknown, who: Identity, joined: ReadonlySet<string>): Message | ErrorAck {
    if (!isObject(payload) || typeof payload.room !== 'string' || typeof payload.clientMsgId !== 'string') return errorAck('E_VALIDATION', 'room and clientMsgId are required')
    if (typeof payload.text !== 'string' || payload.text.trim().length === 0 || payload.text.length > 2000) return errorAck('E_VALIDATION', 'text: 1-2000 characters')
    const room = this.#rooms.get(payload.room)
    if (room === undefined || !joined.has(payload.room)) return errorAck('E_NOT_MEMBER', 'join the room first')
    const message: Message = {
      id: randomUUID(),
      room: payload.room,
      seq: ++room.seq,
      userId: who.userId,
      username: who.username,
      text: payload.text.trim(),
      ts: Date.now(),
      clientMsgId: payload.clientMsgId
    }
    room.messages.push(message)
    if (room.messages.length > 2 * ROOM_HISTORY) room.messages.splice(0, ROOM_HISTORY)
    return message
  }

  history (payload: unknown, joined: ReadonlySet<string>): { ok: true, messages: Message[], hasMore: boolean } | ErrorAck {
    if (!isObject(payload) || typeof payload.room !== 'string') return errorAck('E_VALIDATION', 'room: invalid')
    const room = this.#rooms.get(payload.room)
    if (room === undefined || !joined.has(payload.room)) return errorAck('E_NOT_MEMBER', 'join the room first')
    const before = typeof payload.before === 'number' ? payload.before : room.seq + 1
    const limit = typeof payload.limit === 'number' ? Math.min(100, Math.max(1, payload.limit)) : 50
    const older = room.messages.filter((message) => message.seq < before)
    return { ok: true, messages: older.slice(-limit), hasMore: older.length > limit }
  }
}

export function isErrorAck (value: unknown): value is ErrorAck {
  return isObject(value) && value.ok === false
}

/** Memory and connection figures a reference server reports on GET /stats. */
export function stats (connections: number): Record<string, number> {
  return { ...process.memoryUsage(), connections }
}

/**
 * The reference servers' HTTP side: POST /api/sessions (sign-in) and GET /stats; anything else is
 * a 404 (Socket.IO, when attached, answers its own path before this handler sees it).
 */
export function createHttpServer (chat: MemoryChat, connections: () => number): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(body))
    }
    if (request.method === 'GET' && request.url === '/stats') return json(200, stats(connections()))
    if (request.method === 'POST' && request.url === '/api/sessions') {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        let username: unknown
        try {
          username = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { username?: unknown }).username
        } catch {}
        if (typeof username !== 'string' || !USERNAME.test(username)) return json(400, { error: { code: 'E_VALIDATION', message: 'username: invalid' } })
        json(201, chat.signIn(username))
      })
      return
    }
    json(404, { error: { code: 'E_NOT_FOUND', message: 'not found' } })
  })
}

/** Prints the line the benchmark waits for once the server listens. */
export function announceListening (server: Server, name: string): void {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  process.stdout.write(`${JSON.stringify({ msg: 'listening', name, port, pid: process.pid })}\n`)
}
