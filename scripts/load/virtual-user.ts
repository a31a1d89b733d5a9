import type { Socket as TcpSocket } from 'node:net'
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'
import type { Ack, ClientToServerEvents, RoomJoinOk, ServerToClientEvents } from '../../src/protocol/events.js'
import type { Message } from '../../src/protocol/schemas.js'
import type { Counts, DriverSettings, UserPlan } from './fleet-messages.js'
import { MemberRecord, type RoomLedger } from './ledger.js'

/**
 * One virtual user: the official socket.io-client speaking PROTOCOL.md. It signs in, connects
 * (websocket, from its loopback source address), joins its room, sends when the driver's
 * scheduler tells it to, and records what it receives in its room's ledger. When a connection
 * drops it reconnects and rejoins with `since`, honouring any retryAfterMs the server gives.
 */

type ChatClient = Socket<ServerToClientEvents, ClientToServerEvents>
/** Any ack, as the driver reads it: `ok`, a `seq` when stored, an error code otherwise. */
export interface AnyAck {
  ok: boolean
  seq?: number
  error?: { code: string, retryAfterMs?: number }
}

/** Where a VU reports what happens to it (the driver's current window and run totals). */
export interface UserSink {
  settings: DriverSettings
  /** The text after the timestamp, so a message has `settings.textBytes` bytes. */
  filler: string
  onAck: (windowId: number, rttMs: number, ack: AnyAck) => void
  onUnanswered: (windowId: number) => void
  onLateAck: () => void
  onDelivery: (fanoutMs: number | undefined) => void
  onDrop: (user: VirtualUser) => void
  onRecovered: (count: number) => void
}

interface PendingSend {
  atMs: number
  windowId: number
}

export type Outcome = { ok: true } | { ok: false, reason: string }

const TRANSPORT_RETRIES = 2

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now()

function failureCode (error: Error & { data?: { code?: string } }): string {
  return error.data?.code ?? (error.message === 'timeout' ? 'E_CONNECT_TIMEOUT' : error.message.replace(/\s+/g, '_'))
}

export class VirtualUser {
  readonly plan: UserPlan
  readonly room: RoomLedger
  readonly #sink: UserSink
  readonly #address: string
  #token = ''
  #socket: ChatClient | undefined
  member: MemberRecord | undefined
  joined = false
  /** Set while a drop is ours (the reconnect test) or the run is ending: not an instability. */
  #expectingClose = false
  #recovering = false
  #sendCount = 0
  pausedUntilMs = 0
  readonly pending = new Map<number, PendingSend>()
  /** Refusals this user was told to retry, by code. */
  readonly retries: Counts = {}

  constructor (plan: UserPlan, room: RoomLedger, address: string, sink: UserSink) {
    this.plan = plan
    this.room = room
    this.#address = address
    this.#sink = sink
  }

  get connected (): boolean {
    return this.#socket?.connected === true
  }

  async signIn (): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const response = await fetch(`${this.#sink.settings.url}/api/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: this.plan.username })
        })
        if (response.status === 201) {
          this.#token = (await response.json() as { token: string }).token
          return true
        }
        await response.arrayBuffer()
      } catch {}
      await sleep(200 * (attempt + 1))
    }
    return false
  }

  #createSocket (): ChatClient {
    const options: Partial<ManagerOptions & SocketOptions> & { localAddress: string } = {
      auth: { token: this.#token },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: this.#sink.settings.connectTimeoutMs,
      localAddress: this.#address
    }
    const socket: ChatClient = io(this.#sink.settings.url, options)
    socket.on('message', (message: Message) => this.#onMessage(message))
    socket.on('disconnect', () => this.#onDisconnect())
    return socket
  }

  /**
   * Connects before `deadlineMs` (performance.now()): a refusal with retryAfterMs is retried after
   * that delay; a transport error (refused, reset) at most TRANSPORT_RETRIES times, backing off.
   */
  async connect (deadlineMs: number): Promise<Outcome> {
    const socket = this.#socket ??= this.#createSocket()
    let lastReason = 'E_CONNECT_TIMEOUT'
    let transportErrors = 0
    while (performance.now() < deadlineMs) {
      const result = await new Promise<Outcome & { retryAfterMs?: number }>((resolve) => {
        const timer = setTimeout(() => finish({ ok: false, reason: 'E_CONNECT_TIMEOUT' }), Math.max(1, deadlineMs - performance.now()))
        const onConnect = (): void => finish({ ok: true })
        const onError = (error: Error & { data?: { code?: string, retryAfterMs?: number } }): void => {
          const retryAfterMs = error.data?.retryAfterMs
          finish(retryAfterMs === undefined ? { ok: false, reason: failureCode(error) } : { ok: false, reason: failureCode(error), retryAfterMs })
        }
        const finish = (outcome: Outcome & { retryAfterMs?: number }): void => {
          clearTimeout(timer)
          socket.off('connect', onConnect)
          socket.off('connect_error', onError)
          resolve(outcome)
        }
        socket.once('connect', onConnect)
        socket.once('connect_error', onError)
        socket.connect()
      })
      if (result.ok) return result
      lastReason = result.reason
      if (result.reason === 'E_CONNECT_TIMEOUT') break
      socket.disconnect()
      this.retries[result.reason] = (this.retries[result.reason] ?? 0) + 1
      if (result.reason === 'E_UNAUTHORIZED') break
      if (result.retryAfterMs === undefined && ++transportErrors > TRANSPORT_RETRIES) break
      await sleep(Math.min(result.retryAfterMs ?? 250 * 2 ** transportErrors, deadlineMs - performance.now()))
    }
    this.#expectingClose = true
    socket.disconnect()
    this.#expectingClose = false
    return { ok: false, reason: lastReason }
  }

  async #request (event: 'room:join', payload: { room: string, since?: number }): Promise<AnyAck> {
    const socket = this.#socket as ChatClient
    return await new Promise<AnyAck>((resolve) => {
      socket.timeout(this.#sink.settings.ackTimeoutMs).emit(event, payload, (error: Error | null, ack: Ack<RoomJoinOk>) => {
        resolve(error !== null ? { ok: false, error: { code: 'E_ACK_TIMEOUT' } } : ack as unknown as AnyAck)
      })
    })
  }

  /**
   * Joins the room: the first time from the room's current seq; after a drop with `since` (the
   * last seq received without a gap), reading the missed pages until none is left.
   */
  async join (deadlineMs: number): Promise<Outcome> {
    const rejoin = this.member !== undefined
    let recovered = 0
    let since = this.member?.contiguousUpTo()
    while (performance.now() < deadlineMs) {
      const ack = await this.#request('room:join', since === undefined ? { room: this.plan.room } : { room: this.plan.room, since })
      if (!ack.ok) {
        const retryAfterMs = ack.error?.retryAfterMs
        if (retryAfterMs === undefined) return { ok: false, reason: ack.error?.code ?? 'E_UNKNOWN' }
        this.retries[`join:${ack.error?.code ?? ''}`] = (this.retries[`join:${ack.error?.code ?? ''}`] ?? 0) + 1
        await sleep(Math.min(retryAfterMs, deadlineMs - performance.now()))
        continue
      }
      const answer = ack as unknown as RoomJoinOk
      if (this.member === undefined) {
        this.member = new MemberRecord(answer.seq)
        this.room.members.push(this.member)
      }
      if (rejoin) {
        for (const message of answer.missed) this.member.add(message.seq)
        recovered += answer.missed.length
      }
      if (!rejoin || !answer.hasMore || answer.missed.length === 0) {
        this.member.connected = true
        this.joined = true
        if (recovered > 0) this.#sink.onRecovered(recovered)
        return { ok: true }
      }
      since = (answer.missed[answer.missed.length - 1] as Message).seq
    }
    return { ok: false, reason: 'E_JOIN_TIMEOUT' }
  }

  /** Sends one message (the driver's scheduler calls this at the configured rate). */
  send (windowId: number): void {
    const socket = this.#socket
    if (socket === undefined) return
    const n = ++this.#sendCount
    const atMs = performance.now()
    this.pending.set(n, { atMs, windowId })
    const text = `${(performance.timeOrigin + atMs).toFixed(3)} ${this.#sink.filler}`
    socket.emit('message:send', { room: this.plan.room, text, clientMsgId: `u${this.plan.index}-${n}`.padEnd(8, '_') }, (ack) => this.#onAck(n, ack as AnyAck))
  }

  #onAck (n: number, ack: AnyAck): void {
    const pending = this.pending.get(n)
    if (ack.ok && ack.seq !== undefined) this.room.acked.push(ack.seq)
    if (pending === undefined) {
      this.#sink.onLateAck()
      return
    }
    this.pending.delete(n)
    const retryAfterMs = ack.ok ? undefined : ack.error?.retryAfterMs
    if (retryAfterMs !== undefined) this.pausedUntilMs = performance.now() + retryAfterMs
    this.#sink.onAck(pending.windowId, performance.now() - pending.atMs, ack)
  }

  /** Counts sends older than the ack timeout as unanswered (a late ack is recognized). */
  sweep (nowMs: number): void {
    const oldest = nowMs - this.#sink.settings.ackTimeoutMs
    for (const [n, pending] of this.pending) {
      if (pending.atMs > oldest) break
      this.pending.delete(n)
      this.#sink.onUnanswered(pending.windowId)
    }
  }

  #onMessage (message: Message): void {
    this.member?.live(message.seq)
    const space = message.text.indexOf(' ')
    const sentAt = space > 0 ? Number(message.text.slice(0, space)) : Number.NaN
    this.#sink.onDelivery(Number.isFinite(sentAt) ? epochMs() - sentAt : undefined)
  }

  #onDisconnect (): void {
    const wasJoined = this.joined
    this.joined = false
    if (this.member !== undefined) this.member.connected = false
    if (this.#expectingClose || !wasJoined) return
    this.#sink.onDrop(this)
    if (this.#sink.settings.autoReconnect) void this.recover(performance.now() + 30_000)
  }

  /** Reconnects and rejoins after a drop. */
  async recover (deadlineMs: number): Promise<Outcome> {
    if (this.#recovering) return { ok: false, reason: 'E_ALREADY_RECOVERING' }
    this.#recovering = true
    try {
      const connected = await this.connect(deadlineMs)
      if (!connected.ok) return connected
      return await this.join(deadlineMs)
    } finally {
      this.#recovering = false
    }
  }

  /**
   * The reconnect test: cuts the TCP connection as a network failure would, waits for the
   * client to notice, then reconnects and rejoins with `since`. Resolves the time to rejoined.
   */
  async dropAndRejoin (deadlineMs: number): Promise<Outcome & { ms: number }> {
    const started = performance.now()
    const socket = this.#socket
    if (socket === undefined || !this.joined) return { ok: false, reason: 'E_NOT_JOINED', ms: 0 }
    this.#expectingClose = true
    const closed = new Promise<boolean>((resolve) => socket.once('disconnect', () => resolve(true)))
    const tcp = (socket.io.engine?.transport as unknown as { ws?: { _socket?: TcpSocket } } | undefined)?.ws?._socket
    if (tcp === undefined) socket.io.engine.close()
    else tcp.destroy()
    if (!await Promise.race([closed, sleep(5000).then(() => false)])) socket.io.engine.close()
    this.#expectingClose = false
    const outcome = await this.recover(deadlineMs)
    // Past the test's deadline a client keeps trying, as a real one would (the room heals).
    if (!outcome.ok && this.#sink.settings.autoReconnect) void this.recover(performance.now() + 30_000)
    return { ...outcome, ms: performance.now() - started }
  }

  close (): void {
    this.#expectingClose = true
    this.joined = false
    this.#socket?.disconnect()
    this.#socket?.removeAllListeners()
    this.#socket = undefined
  }
}
