import { Emitter } from '@socket.io/component-emitter'
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client'
import type { ClientEventName, ConnectErrorData } from '../protocol/events.js'
import type { Member, Visibility } from '../protocol/schemas.js'
import { backoffDelayMs, sleep, type BackoffOptions } from './backoff.js'
import type { ChatClientEvents, ConnectionChange, ConnectionState, Emit, HistoryPage, SendOutcome } from './client-events.js'
import { ChatClientError, CLOSED, NO_ANSWER, type ClientError } from './errors.js'
import { newClientMsgId, Outbox } from './outbox.js'
import { HISTORY_DEFAULT_LIMIT, ROOM_PATTERN } from '../protocol/limits.js'
import { createRequester, type AckOf, type ChatSocket, type PayloadOf, type Requester } from './request.js'
import { RoomFeed, type RoomInfo } from './room-feed.js'
import { renewSession, sessionLifetimeMs, signIn, signUp, type Account, type Session } from './session.js'

/**
 * A chat client for browsers and Node: signs in, keeps one Socket.IO connection up (socket.io's
 * own reconnection with jittered exponential backoff, plus the refusals it leaves to the app:
 * an overloaded server's retryAfterMs, an expired token), re-syncs every joined room after each
 * reconnect, and sends with retries that reuse each message's clientMsgId.
 */

export interface ChatClientOptions {
  /** The server's origin, e.g. `location.origin` or `http://127.0.0.1:3000`. */
  url: string
  reconnectionDelayMs?: number
  reconnectionDelayMaxMs?: number
  /** Spread of each reconnection delay, 0–1 (0.5: ±50 %). */
  randomizationFactor?: number
  /** How long an event waits for its ack before its outcome counts as unknown. */
  ackTimeoutMs?: number
  maxSendAttempts?: number
  /** Passed on to socket.io-client (transports, path…). */
  socket?: Partial<ManagerOptions & SocketOptions>
  fetch?: typeof fetch
}

/** Refusals in a row (each after a fresh sign-in) before the client stops and asks for a new one. */
const MAX_UNAUTHORIZED_IN_A_ROW = 3
/** Renew the token once this share of its lifetime has passed. */
const REFRESH_AT_LIFETIME_SHARE = 0.8
const MAX_TIMER_MS = 2 ** 31 - 1
const TRANSIENT_SIGN_IN_ERRORS = new Set(['E_NETWORK', 'E_RATE_LIMITED', 'E_OVERLOADED', 'E_INTERNAL'])

/** One of the caller's rooms, as `GET /api/rooms` lists it. */
export interface RoomMembership {
  room: string
  visibility: Visibility
  role: 'owner' | 'moderator' | 'member'
  direct: boolean
}

export class ChatClient extends Emitter<{}, {}, ChatClientEvents> {
  readonly #options: ChatClientOptions
  readonly #backoff: BackoffOptions
  readonly #closing = new AbortController()
  readonly #rooms = new Map<string, RoomFeed>()
  readonly #waiters = new Set<() => boolean>()
  /** The typing state last asked for, per room. */
  readonly #typing = new Map<string, boolean>()
  readonly #request: Requester
  readonly #outbox: Outbox
  readonly #emit: Emit = (event, ...args) => { this.emitReserved(event, ...args) }
  #session: Session | undefined
  /**
   * When the session cannot be renewed, a guest sign-in under its name (a new identity) replaces
   * it; the server refuses that for an account's name, and the app must sign in again.
   */
  #guest = true
  #socket: ChatSocket | undefined
  #state: ConnectionState = 'offline'
  #refusals = 0
  #unauthorized = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #refreshTimer: ReturnType<typeof setTimeout> | undefined

  constructor (options: ChatClientOptions) {
    super()
    this.#options = options
    this.#backoff = {
      baseDelayMs: options.reconnectionDelayMs ?? 500,
      maxDelayMs: options.reconnectionDelayMaxMs ?? 10_000,
      randomizationFactor: options.randomizationFactor ?? 0.5
    }
    this.#request = createRequester(() => this.#socket, options.ackTimeoutMs ?? 10_000)
    this.#outbox = new Outbox({
      request: this.#request,
      whenJoined: (room) => this.#whenJoined(room),
      emit: (status) => this.#emit('send', status),
      signal: this.#closing.signal,
      backoff: this.#backoff,
      maxAttempts: options.maxSendAttempts ?? 8
    })
  }

  get state (): ConnectionState {
    return this.#state
  }

  get session (): Session | undefined {
    return this.#session
  }

  /**
   * Signs in (`POST /api/sessions`): with a password to an account, without one as a guest (a new
   * identity each time); connect() then uses the token. The password is not kept.
   */
  async signIn (username: string, password?: string): Promise<Session> {
    const session = await signIn(this.#options.url, username, this.#options.fetch, password)
    this.#guest = password === undefined
    this.useSession(session)
    return session
  }

  /** Creates an account (`POST /api/users`); sign in with it afterwards. */
  async signUp (username: string, password: string): Promise<Account> {
    return await signUp(this.#options.url, username, password, this.#options.fetch)
  }

  /** Uses a session obtained earlier (a token kept by the app). */
  useSession (session: Session): void {
    this.#session = session
    this.#emit('session', session)
    clearTimeout(this.#refreshTimer)
    const refreshInMs = Math.min(MAX_TIMER_MS, Math.max(1000, sessionLifetimeMs(session) * REFRESH_AT_LIFETIME_SHARE))
    this.#refreshTimer = setTimeout(() => { void this.#refreshSession() }, refreshInMs)
    // In Node, a pending refresh alone must not keep the process alive.
    ;(this.#refreshTimer as unknown as { unref?: () => void }).unref?.()
  }

  /** Opens the connection; it stays up (reconnecting as needed) until close(). */
  connect (): void {
    if (this.#closing.signal.aborted) throw new ChatClientError(CLOSED)
    if (this.#socket !== undefined) return
    if (this.#session === undefined) throw new ChatClientError({ code: 'E_UNAUTHORIZED', message: 'sign in before connecting' })
    const socket: ChatSocket = io(this.#options.url, {
      reconnectionDelay: this.#backoff.baseDelayMs,
      reconnectionDelayMax: this.#backoff.maxDelayMs,
      randomizationFactor: this.#backoff.randomizationFactor,
      // One connection per client, even beside another client of the same server.
      forceNew: true,
      ...this.#options.socket,
      autoConnect: false,
      // Read at every handshake, so a reconnect carries the newest token.
      auth: (callback) => { callback({ token: this.#session?.token }) }
    })
    this.#socket = socket
    socket.on('connect', () => this.#onConnect())
    socket.on('disconnect', (reason) => this.#onDisconnect(reason))
    socket.on('connect_error', (error) => this.#onConnectError(error as Error & { data?: ConnectErrorData }))
    socket.on('message', (message) => this.#rooms.get(message.room)?.offer(message))
    socket.on('presence', (event) => {
      this.#rooms.get(event.room)?.presence(event)
      this.#emit('presence', event)
    })
    socket.on('typing', (event) => this.#emit('typing', event))
    socket.on('room:removed', (event) => {
      // Kicked or banned: stop keeping the room joined (a rejoin would be refused or unwanted).
      if (this.#rooms.delete(event.room)) this.#notify()
      this.#emit('removed', event)
    })
    socket.on('message:deleted', (event) => this.#emit('deleted', event))
    socket.on('room:role', (event) => {
      this.#rooms.get(event.room)?.role(event, this.#session?.userId)
      this.#emit('role', event)
    })
    this.#setState('connecting')
    socket.connect()
  }

  /**
   * Joins a room (now, or as soon as connected) and keeps it joined across reconnects.
   * Resolves after the first join; rejects with ChatClientError when the server refuses it.
   */
  async join (room: string): Promise<void> {
    if (!ROOM_PATTERN.test(room)) throw new ChatClientError({ code: 'E_VALIDATION', message: `room must match ${String(ROOM_PATTERN)}` })
    let feed = this.#rooms.get(room)
    if (feed === undefined) {
      feed = new RoomFeed(room, {
        request: this.#request,
        emit: (event, ...args) => {
          this.#emit(event, ...args)
          // Sends waiting for this room can go now.
          if (event === 'synced') this.#notify()
        },
        online: () => this.#socket?.connected === true,
        refused: (error) => {
          if (this.#rooms.get(room) === feed) this.#rooms.delete(room)
          // Sends waiting for this room fail now.
          this.#notify()
          this.#emit('error', { ...error, room })
        },
        signal: this.#closing.signal,
        backoff: this.#backoff
      })
      this.#rooms.set(room, feed)
      if (this.#socket?.connected === true) void feed.sync()
    }
    try {
      await feed.ready
    } catch (error) {
      throw new ChatClientError(error as ClientError)
    }
  }

  async leave (room: string): Promise<void> {
    if (!this.#rooms.delete(room)) return
    this.#notify()
    await this.#request('room:leave', { room })
  }

  /**
   * Sends a message: `send` events report pending → delivered or failed, and the promise
   * resolves the outcome. Pass the clientMsgId of a failed send to retry it without a double.
   */
  async send (room: string, text: string, options: { clientMsgId?: string } = {}): Promise<SendOutcome> {
    return await this.#outbox.send(room, text, options.clientMsgId ?? newClientMsgId())
  }

  /** The page of a room's messages before the oldest one this client has seen (for scrolling up). */
  async loadOlder (room: string, limit = HISTORY_DEFAULT_LIMIT): Promise<HistoryPage> {
    const feed = this.#rooms.get(room)
    if (feed === undefined) throw new ChatClientError({ code: 'E_NOT_MEMBER', message: `join ${room} first` })
    const page = await feed.older(limit)
    if ('code' in page) throw new ChatClientError(page)
    return page
  }

  /** Tells the room whether this user is typing; best effort (dropped while offline). */
  setTyping (room: string, typing: boolean): void {
    this.#typing.set(room, typing)
    if (this.#rooms.get(room)?.joined === true) void this.#sendTyping(room, typing)
  }

  /** Creates a room this user owns (not joined: join() it). E_CONFLICT when the name exists. */
  async createRoom (room: string, visibility: Visibility = 'public'): Promise<void> {
    await this.#command('room:create', { room, visibility })
  }

  /** Lets a user join a private room (owner or moderator). */
  async invite (room: string, userId: string): Promise<void> {
    await this.#command('room:invite', { room, userId })
  }

  /** Takes a user out of a room on every connection (owner or moderator). */
  async kick (room: string, userId: string): Promise<void> {
    await this.#command('room:kick', { room, userId })
  }

  /** Kicks a user and keeps them out until unbanned (owner or moderator). */
  async ban (room: string, userId: string): Promise<void> {
    await this.#command('room:ban', { room, userId })
  }

  async unban (room: string, userId: string): Promise<void> {
    await this.#command('room:unban', { room, userId })
  }

  /** Makes a member a moderator or back (owner only). */
  async setRole (room: string, userId: string, role: 'moderator' | 'member'): Promise<void> {
    await this.#command('room:role', { room, userId, role })
  }

  /** The direct-message room with another user (the same from either side); join() it to chat. */
  async openDirect (userId: string): Promise<string> {
    return (await this.#command('dm:open', { userId })).room
  }

  /** Deletes a message (its author, or the room's owner or a moderator). */
  async deleteMessage (room: string, id: string): Promise<void> {
    await this.#command('message:delete', { room, id })
  }

  /** The signed-in user's rooms (`GET /api/rooms`). */
  async listRooms (): Promise<RoomMembership[]> {
    const token = this.#session?.token
    if (token === undefined) throw new ChatClientError({ code: 'E_UNAUTHORIZED', message: 'sign in first' })
    let response: Response
    try {
      response = await (this.#options.fetch ?? fetch)(new URL('/api/rooms', this.#options.url), { headers: { authorization: `Bearer ${token}` } })
    } catch (error) {
      throw new ChatClientError({ code: 'E_NETWORK', message: `cannot reach the server: ${String(error)}` })
    }
    const body = await response.json().catch(() => undefined) as { rooms?: RoomMembership[], error?: ClientError } | undefined
    if (response.ok && Array.isArray(body?.rooms)) return body.rooms
    throw new ChatClientError(body?.error ?? { code: response.status >= 500 ? 'E_INTERNAL' : 'E_VALIDATION', message: `GET /api/rooms failed with HTTP ${response.status}` })
  }

  /** The staff and visibility of a joined room, as its last join answered them. */
  roomInfo (room: string): RoomInfo | undefined {
    return this.#rooms.get(room)?.info
  }

  members (room: string): Member[] {
    return this.#rooms.get(room)?.members ?? []
  }

  /** The highest seq of a room delivered to the app (0 before any). */
  lastSeq (room: string): number {
    return this.#rooms.get(room)?.lastSeq ?? 0
  }

  /** Closes the connection for good; pending sends fail with E_CLOSED. Idempotent. */
  close (): void {
    if (this.#closing.signal.aborted) return
    this.#closing.abort()
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#refreshTimer)
    this.#socket?.close()
    this.#notify()
    this.#setState('offline')
  }

  /** One event whose refusal is the caller's to handle: resolves the ok ack, throws ChatClientError. */
  async #command<E extends ClientEventName> (event: E, payload: PayloadOf<E>): Promise<Extract<AckOf<E>, { ok: true }>> {
    await this.#online()
    const ack = await this.#request(event, payload)
    if (ack === undefined) throw new ChatClientError(NO_ANSWER)
    if (!ack.ok) throw new ChatClientError(ack.error)
    return ack as Extract<AckOf<E>, { ok: true }>
  }

  /** Waits (up to the ack timeout) for the connection while it is being made; false if it is not up. */
  async #online (): Promise<boolean> {
    const socket = this.#socket
    if (socket === undefined || socket.connected || this.#closing.signal.aborted) return socket?.connected === true
    return await new Promise((resolve) => {
      const done = (connected: boolean): void => {
        clearTimeout(timer)
        socket.off('connect', onConnect)
        resolve(connected)
      }
      const onConnect = (): void => done(true)
      const timer = setTimeout(() => done(false), this.#options.ackTimeoutMs ?? 10_000)
      socket.on('connect', onConnect)
    })
  }

  #setState (state: ConnectionState, detail: Omit<ConnectionChange, 'state'> = {}): void {
    if (state === this.#state && detail.retryInMs === undefined) return
    this.#state = state
    this.#emit('state', { state, ...detail })
  }

  #onConnect (): void {
    this.#refusals = 0
    this.#unauthorized = 0
    this.#setState('online')
    for (const feed of this.#rooms.values()) void feed.sync()
  }

  #onDisconnect (reason: string): void {
    for (const feed of this.#rooms.values()) feed.disconnected()
    if (this.#closing.signal.aborted) return
    if (reason === 'io server disconnect') {
      // The server ended the session (an expired token): socket.io does not retry this one.
      this.#setState('reconnecting', { reason })
      void this.#renewAndReconnect()
      return
    }
    this.#setState('reconnecting', { reason })
  }

  #onConnectError (error: Error & { data?: ConnectErrorData }): void {
    if (this.#closing.signal.aborted) return
    // Transport failures: socket.io-client's reconnection retries with its backoff.
    if (this.#socket?.active === true) {
      this.#setState('reconnecting', { reason: error.message })
      return
    }
    // A handshake refused by the server: socket.io-client leaves the retry to us.
    if (error.data?.code === 'E_UNAUTHORIZED') {
      void this.#renewAndReconnect()
      return
    }
    const retryInMs = Math.max(error.data?.retryAfterMs ?? 0, backoffDelayMs(++this.#refusals, this.#backoff))
    this.#setState('reconnecting', { reason: error.message, code: error.data?.code ?? 'E_INTERNAL', retryInMs })
    this.#scheduleConnect(retryInMs)
  }

  /**
   * The token was refused (expired or revoked): renew it; failing that, a guest signs in again
   * under the same name (a new identity), an account needs the app (a password); then reconnects.
   */
  async #renewAndReconnect (): Promise<void> {
    const session = this.#session
    if (session === undefined || this.#unauthorized++ >= MAX_UNAUTHORIZED_IN_A_ROW) {
      this.#giveUp({ code: 'E_UNAUTHORIZED', message: 'the server refused the session; sign in again' })
      return
    }
    for (let attempt = 1; ; attempt++) {
      try {
        try {
          this.useSession(await renewSession(this.#options.url, session.token, this.#options.fetch))
        } catch (error) {
          if ((error as ChatClientError).code !== 'E_UNAUTHORIZED' || !this.#guest) throw error
          await this.signIn(session.username)
        }
        break
      } catch (error) {
        const failure = error as ChatClientError
        if (!TRANSIENT_SIGN_IN_ERRORS.has(failure.code)) {
          this.#giveUp(failure)
          return
        }
        const retryInMs = Math.max(failure.retryAfterMs ?? 0, backoffDelayMs(attempt, this.#backoff))
        this.#setState('reconnecting', { reason: failure.message, retryInMs })
        if (!await sleep(retryInMs, this.#closing.signal)) return
      }
    }
    this.#scheduleConnect(0)
  }

  /** Stops retrying: only the app can help (a new sign-in). */
  #giveUp (error: ClientError): void {
    this.#emit('error', error)
    this.#setState('offline', { reason: error.message })
  }

  /** Swaps the token for a fresh one before it expires, without dropping the connection. */
  async #refreshSession (): Promise<void> {
    if (this.#session === undefined || this.#closing.signal.aborted) return
    try {
      const session = await renewSession(this.#options.url, this.#session.token, this.#options.fetch)
      this.useSession(session)
      await this.#request('auth:refresh', { token: session.token })
    } catch {
      // An expired token ends in 'io server disconnect', which signs in again.
    }
  }

  async #sendTyping (room: string, typing: boolean): Promise<void> {
    const ack = await this.#request('typing', { room, typing })
    // Throttled: say it once more when allowed, unless the user stopped typing meanwhile.
    if (ack?.ok !== false || ack.error.retryAfterMs === undefined) return
    if (await sleep(ack.error.retryAfterMs, this.#closing.signal) && this.#typing.get(room) === typing) {
      await this.#request('typing', { room, typing })
    }
  }

  #scheduleConnect (delayMs: number): void {
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => {
      if (!this.#closing.signal.aborted && this.#socket?.connected === false) this.#socket.connect()
    }, delayMs)
  }

  async #whenJoined (room: string): Promise<boolean> {
    return await new Promise((resolve) => {
      const check = (): boolean => {
        const feed = this.#rooms.get(room)
        if (this.#closing.signal.aborted || feed === undefined) resolve(false)
        else if (feed.joined && this.#socket?.connected === true) resolve(true)
        else return false
        return true
      }
      if (!check()) this.#waiters.add(check)
    })
  }

  #notify (): void {
    for (const check of this.#waiters) if (check()) this.#waiters.delete(check)
  }
}
