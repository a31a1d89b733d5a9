import { randomUUID } from 'node:crypto'
import { io } from 'socket.io-client'
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from '../../scripts/services.js'
import type { Ack, MessageSendOk, RoomJoinOk } from '../../src/protocol/events.js'
import type { Message } from '../../src/protocol/schemas.js'
import type { ChatClient } from './client.js'
import { startCluster, type ClusterHandle, type ClusterOptions } from './cluster.js'

/**
 * Several VMs on one machine: private PostgreSQL and Redis servers (scripts/services.ts, torn
 * down with the test) and clusters on their own ports sharing them, each standing for a VM.
 * Clients that roam between VMs: a sender that resends every unacked message with the same
 * clientMsgId, through whichever VM answers, and a receiver that rejoins with `since` wherever it
 * reconnects.
 */

interface Teardown { teardown: (fn: () => unknown) => void }

export interface Backends {
  pg: PostgresServer
  redis: RedisServer
}

export async function startBackends (t: Teardown): Promise<Backends> {
  const pg = await startPostgres()
  t.teardown(() => pg.stop())
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  return { pg, redis }
}

/** One VM: a cluster on PostgreSQL and Redis, checking positions and probes quickly. */
export async function startVm (t: Teardown, backends: Backends, options: ClusterOptions = {}): Promise<ClusterHandle> {
  return await startCluster(t, {
    workers: 1,
    ...options,
    env: {
      STORE: 'postgres',
      DATABASE_URL: backends.pg.url,
      REDIS_URL: backends.redis.url,
      RECONCILE_INTERVAL_MS: '500',
      REDIS_PROBE_INTERVAL_MS: '500',
      MESSAGE_RATE_PER_S: '1000',
      MESSAGE_BURST: '1000',
      ...options.env
    }
  })
}

/** Connects to the first of `urls` that accepts, trying each in turn (bounded by `deadline`). */
async function connectAny (t: Teardown, urls: readonly string[], token: string, start: number, deadline: number): Promise<{ socket: ChatClient, index: number }> {
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const index = (start + attempt) % urls.length
    const socket: ChatClient = io(urls[index] as string, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 3000 })
    t.teardown(() => { socket.disconnect() })
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true))
      socket.once('connect_error', () => resolve(false))
    })
    if (ok) return { socket, index }
    socket.disconnect()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('no VM accepted a connection before the deadline')
}

export interface Acked {
  clientMsgId: string
  id: string
  seq: number
  text: string
}

export interface RoamingSender {
  /** Sends `text` until acked (the same clientMsgId each try), on whichever VM answers. */
  send: (text: string) => Promise<Acked>
  acked: Acked[]
  /** Connections made after the first. */
  failovers: number
  close: () => void
}

/**
 * A sender that keeps going through failures: a send not acked ok (no answer, a disconnect,
 * E_OVERLOADED, E_INTERNAL) is sent again with the same clientMsgId, after reconnecting to the
 * next VM when its connection is gone. Stops trying at `deadlineMs` from its start.
 */
export async function roamingSender (t: Teardown, urls: readonly string[], token: string, room: string, deadlineMs = 60_000): Promise<RoamingSender> {
  const deadline = Date.now() + deadlineMs
  let current = await connectAny(t, urls, token, 0, deadline)
  const join = async (): Promise<boolean> => await new Promise((resolve) => {
    current.socket.timeout(3000).emit('room:join', { room }, (error: Error | null, ack: Ack<RoomJoinOk>) => resolve(error === null && ack.ok))
  })
  if (!await join()) throw new Error('the sender could not join')
  const state: RoamingSender = {
    acked: [],
    failovers: 0,
    close: () => { current.socket.disconnect() },
    send: async (text) => {
      const clientMsgId = randomUUID()
      while (Date.now() < deadline) {
        if (!current.socket.connected) {
          current = await connectAny(t, urls, token, current.index + 1, deadline)
          state.failovers++
          if (!await join()) continue
        }
        const ack = await new Promise<Ack<MessageSendOk> | undefined>((resolve) => {
          current.socket.timeout(3000).emit('message:send', { room, text, clientMsgId }, (error: Error | null, answer: Ack<MessageSendOk>) => resolve(error === null ? answer : undefined))
        })
        if (ack?.ok === true) {
          const acked = { clientMsgId, id: ack.id, seq: ack.seq, text }
          state.acked.push(acked)
          return acked
        }
        const retryAfterMs = ack !== undefined && !ack.ok ? ack.error.retryAfterMs ?? 100 : 100
        await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfterMs, 1000)))
      }
      throw new Error(`message ${clientMsgId} was not acked before the deadline`)
    }
  }
  return state
}

export interface RoamingReceiver {
  received: Message[]
  reconnects: number
  lastSeq: () => number
  close: () => void
}

/**
 * A receiver that, whenever its connection drops, connects to the next VM that accepts and
 * rejoins with `since` = the last seq it holds, paging through `hasMore`. Keeps every message in
 * arrival order, duplicates included, so a test can see them.
 */
export async function roamingReceiver (t: Teardown, urls: readonly string[], token: string, room: string, first = 0, deadlineMs = 120_000): Promise<RoamingReceiver> {
  const deadline = Date.now() + deadlineMs
  let closed = false
  let socket: ChatClient | undefined
  const state: RoamingReceiver = {
    received: [],
    reconnects: 0,
    lastSeq: () => state.received.at(-1)?.seq ?? 0,
    close: () => {
      closed = true
      socket?.disconnect()
    }
  }
  const rejoin = async (target: ChatClient): Promise<void> => await new Promise((resolve) => {
    const join = (): void => {
      target.timeout(5000).emit('room:join', { room, since: state.lastSeq() }, (error: Error | null, ack: Ack<RoomJoinOk>) => {
        if (error !== null || !ack.ok) { target.disconnect(); resolve(); return }
        state.received.push(...ack.missed)
        if (ack.hasMore) join()
        else resolve()
      })
    }
    join()
  })
  const attach = async (index: number): Promise<void> => {
    const connected = await connectAny(t, urls, token, index, deadline)
    socket = connected.socket
    const mine = connected.socket
    mine.on('message', (message) => { if (message.room === room) state.received.push(message) })
    mine.once('disconnect', () => {
      if (closed || Date.now() > deadline) return
      state.reconnects++
      void attach(connected.index + 1).catch(() => {})
    })
    await rejoin(mine)
  }
  await attach(first)
  return state
}

/** The seqs of `messages` in order, and whether each seq appears once, 1..n with no gap. */
export function seqReport (messages: readonly Message[]): { seqs: number[], duplicates: number, gapless: boolean, ordered: boolean } {
  const seqs = messages.map((message) => message.seq)
  const unique = new Set(seqs)
  const sorted = [...unique].sort((a, b) => a - b)
  return {
    seqs,
    duplicates: seqs.length - unique.size,
    gapless: sorted.every((seq, i) => seq === i + 1),
    ordered: seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number))
  }
}

/**
 * Every sender sends `count` messages one after another (each until acked), `intervalMs` apart;
 * resolves when all are acked.
 */
export async function flood (senders: readonly RoamingSender[], count: number, intervalMs: number, label = 'm'): Promise<void> {
  await Promise.all(senders.map(async (sender, s) => {
    for (let i = 0; i < count; i++) {
      await sender.send(`${label}${s}-${i}`)
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  }))
}

/** Every message of the room, oldest first, read page by page through REST. */
export async function roomHistory (url: string, token: string, room: string): Promise<Message[]> {
  const all: Message[] = []
  for (let page = 0; page < 1000; page++) {
    const after = all.at(-1)?.seq ?? 0
    const response = await fetch(`${url}/api/rooms/${room}/messages?after=${after}&limit=100`, { headers: { authorization: `Bearer ${token}` } })
    if (response.status !== 200) throw new Error(`history: ${response.status} ${await response.text()}`)
    const body = await response.json() as { messages: Message[], hasMore: boolean }
    all.push(...body.messages)
    if (!body.hasMore) break
  }
  return all
}

/** SIGKILLs a VM's primary and workers at once (a VM that vanishes), and waits for the primary. */
export async function killVm (vm: ClusterHandle): Promise<void> {
  const pids = [...vm.workerPids(), vm.process.pid as number]
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  await vm.exited
}
