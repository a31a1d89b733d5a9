import { randomUUID } from 'node:crypto'
import { io, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client'
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../../src/protocol/events.js'
import type { Message } from '../../src/protocol/schemas.js'

/** Real socket.io-client connections speaking PROTOCOL.md, closed when the test ends. */

export type ChatClient = Socket<ServerToClientEvents, ClientToServerEvents>

export interface Session {
  token: string
  userId: string
  username: string
  expiresAt: string
}

interface Teardown { teardown: (fn: () => unknown) => void }

export async function signIn (url: string, username: string): Promise<Session> {
  const response = await fetch(`${url}/api/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username })
  })
  if (response.status !== 201) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`)
  return await response.json() as Session
}

/** `POST /api/sessions/renew`: a fresh token for the same identity. */
export async function renew (url: string, token: string): Promise<Session> {
  const response = await fetch(`${url}/api/sessions/renew`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  if (response.status !== 201) throw new Error(`renewal failed: ${response.status} ${await response.text()}`)
  return await response.json() as Session
}

/** `POST /api/users` then `POST /api/sessions` with the password: an account's session. */
export async function register (url: string, username: string, password: string): Promise<Session> {
  const created = await fetch(`${url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) })
  if (created.status !== 201) throw new Error(`registration failed: ${created.status} ${await created.text()}`)
  const response = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) })
  if (response.status !== 201) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`)
  return await response.json() as Session
}

export type ConnectOptions = Partial<ManagerOptions & SocketOptions>

/**
 * Connects (websocket only unless told) and resolves once the handshake succeeded. Like a
 * well-behaved client it honours E_OVERLOADED: waits retryAfterMs and tries again (bounded), so
 * tests on a busy machine do not fail because the server pushed back for a moment.
 */
export async function connect (t: Teardown, url: string, token: string, options: ConnectOptions = {}, { retryOverloaded = true } = {}): Promise<ChatClient> {
  const socket: ChatClient = io(url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 10_000,
    ...options
  })
  t.teardown(() => { socket.close() })
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve())
        socket.once('connect_error', (error) => reject(error))
      })
      return socket
    } catch (error) {
      const data = (error as { data?: { code?: string, retryAfterMs?: number } }).data
      if (!retryOverloaded || data?.code !== 'E_OVERLOADED' || attempt >= 40) throw error
      await new Promise((resolve) => setTimeout(resolve, data.retryAfterMs ?? 500))
      socket.connect()
    }
  }
}

/** A connect that is expected to fail: resolves the connect_error. */
export async function connectError (t: Teardown, url: string, token: unknown, options: ConnectOptions = {}): Promise<Error & { data?: { code?: string, retryAfterMs?: number } }> {
  const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, ...options })
  t.teardown(() => { socket.close() })
  return await new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, but a connect_error was expected')))
    socket.once('connect_error', (error) => resolve(error))
  })
}

/** Emits an event and resolves its ack (rejects if none arrives in time). */
export async function request<T extends object = object> (socket: ChatClient, event: string, payload: unknown, timeoutMs = 10_000): Promise<Ack<T>> {
  return await (socket.timeout(timeoutMs) as unknown as { emitWithAck: (event: string, payload: unknown) => Promise<Ack<T>> }).emitWithAck(event, payload)
}

/** Every `message` event the socket receives, in arrival order. */
export function collectMessages (socket: ChatClient): Message[] {
  const messages: Message[] = []
  socket.on('message', (message) => messages.push(message))
  return messages
}

export function clientMsgId (): string {
  return randomUUID()
}

/** Polls until the condition holds (bounded). */
export async function eventually (condition: () => boolean, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}

/** Reads /metrics on the operations listener (`opsUrl`) and returns the value of one series (sum over matching label sets). */
export async function metric (opsUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text()
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const labelText = match[3] ?? ''
    const ok = Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))
    if (ok) total += Number(match[4])
  }
  return total
}
