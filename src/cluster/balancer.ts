import type { Worker } from 'node:cluster'
import type { Server as HttpServer } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import type { PrimaryMetrics } from '../ops/metrics.js'
import { headerValue, normalizeAddress, resolveClientAddress } from './client-address.js'
import type { Supervisor } from './supervisor.js'

/**
 * The primary's side of sticky sessions: it owns the listening port, reads each connection's
 * HTTP request head, and hands the raw socket to the worker that owns its Engine.IO session (new
 * sessions: the least busy ready worker). Workers receive it with @socket.io/sticky's
 * setupWorker, which speaks the same `sticky:connection` message.
 *
 * This replaces sticky's setupMaster, which loses 1–2 % of Socket.IO CONNECTs under a burst:
 * after it sends a socket to a worker it keeps reading it until the worker acknowledges, and
 * Node discards what the primary reads meanwhile (the client's CONNECT frame). Here reading
 * stops before the hand-off, so every byte the primary did not read stays in the kernel for the
 * worker. Bodies are never relayed over IPC (sticky relays them chunk by chunk): the worker gets
 * the socket itself. Health and readiness are answered by the primary (metrics only on the
 * operations listener, src/ops/ops-server.ts).
 *
 * Before a worker sees anything: the whole head must arrive within `headTimeoutMs` of the
 * connection (an absolute deadline: a slowloris trickling a byte at a time is cut at it), an
 * address may have at most `maxHeadsPerAddress` heads in progress (trusted proxies excepted),
 * and the client's real address is resolved (client-address.ts) and sent with the socket.
 */

export interface BalancerOptions {
  supervisor: Supervisor
  /** Answers the primary's own routes on the public port (`opsPaths`: GET /healthz, /readyz). */
  opsServer: HttpServer
  opsPaths: ReadonlySet<string>
  /** A client must send its whole request head within this time of connecting. */
  headTimeoutMs: number
  /** Heads in progress per peer address (0: no cap); trusted proxies are not capped. */
  maxHeadsPerAddress: number
  /** Whether a peer is a trusted proxy (TRUST_PROXY), whose X-Forwarded-For is believed. */
  trustedProxy: (address: string) => boolean
  metrics: PrimaryMetrics
}

const MAX_HEAD_BYTES = 16 * 1024
const HEAD_END = Buffer.from('\r\n\r\n')
const SID = /[?&]sid=([\w-]{20})(?:&|$| )/

/** Stops the kernel → Node reads of a socket, so unread bytes stay in the kernel buffer. */
function stopReading (socket: Socket): void {
  socket.pause()
  const handle = (socket as unknown as { _handle?: { reading?: boolean, readStop?: () => number } })._handle
  if (handle?.reading === true && typeof handle.readStop === 'function') {
    handle.reading = false
    handle.readStop()
  }
}

const BODIES: Readonly<Record<string, string>> = {
  '503 Service Unavailable': '{"error":{"code":"E_OVERLOADED","message":"no worker available","retryAfterMs":1000}}',
  '429 Too Many Requests': '{"error":{"code":"E_RATE_LIMITED","message":"too many requests in progress from this address","retryAfterMs":1000}}'
}

function reject (socket: Socket, status: string, retryAfterS?: number): void {
  const retry = retryAfterS === undefined ? '' : `Retry-After: ${retryAfterS}\r\n`
  const body = BODIES[status] ?? ''
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\n${retry}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

export function createBalancer (options: BalancerOptions): Server {
  const { supervisor, opsServer, metrics } = options

  const headsInProgress = new Map<string, number>()

  const route = (socket: Socket, head: Buffer, headEnd: number, peer: string): void => {
    const headText = head.toString('latin1', 0, headEnd)
    const lineEnd = headText.indexOf('\r\n')
    const requestLine = lineEnd === -1 ? headText : headText.slice(0, lineEnd)
    const [method = '', target = ''] = requestLine.split(' ')
    const path = target.split('?')[0] ?? ''

    if (method === 'GET' && options.opsPaths.has(path)) {
      metrics.handoffs.inc({ route: 'primary' })
      opsServer.emit('connection', socket)
      socket.unshift(head)
      socket.resume()
      return
    }

    let worker: Worker | undefined
    let kind: string
    const sid = SID.exec(target)?.[1]
    if (sid !== undefined) {
      // An unknown or dead session still goes to a worker, which answers "Session ID unknown".
      worker = supervisor.ownerOf(sid) ?? supervisor.pickAny()
      kind = 'session'
    } else if (path.startsWith('/socket.io/')) {
      worker = supervisor.pickForSession()
      kind = 'handshake'
    } else {
      worker = supervisor.pickAny()
      kind = 'http'
    }
    if (worker === undefined || supervisor.stopping) {
      metrics.overloadRejects.inc({ reason: supervisor.stopping ? 'stopping' : 'no_worker' })
      reject(socket, '503 Service Unavailable', 1)
      return
    }
    metrics.handoffs.inc({ route: kind })
    const clientAddress = resolveClientAddress(peer, headerValue(headText, 'x-forwarded-for'), options.trustedProxy)
    worker.send({ type: 'sticky:connection', data: head, clientAddress }, socket, { keepOpen: false }, (error) => {
      if (error !== null && error !== undefined) socket.destroy()
    })
  }

  return createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy())
    const peer = normalizeAddress(socket.remoteAddress ?? 'unknown')
    const capped = options.maxHeadsPerAddress > 0 && !options.trustedProxy(peer)
    if (capped) {
      const count = headsInProgress.get(peer) ?? 0
      if (count >= options.maxHeadsPerAddress) {
        metrics.overloadRejects.inc({ reason: 'heads_per_address' })
        reject(socket, '429 Too Many Requests', 1)
        return
      }
      headsInProgress.set(peer, count + 1)
    }
    let pending = true
    const done = (): void => {
      if (!pending) return
      pending = false
      clearTimeout(deadline)
      if (!capped) return
      const count = (headsInProgress.get(peer) ?? 1) - 1
      if (count <= 0) headsInProgress.delete(peer)
      else headsInProgress.set(peer, count)
    }
    // Absolute: unlike socket.setTimeout, bytes arriving do not push it back.
    const deadline = setTimeout(() => {
      metrics.overloadRejects.inc({ reason: 'head_timeout' })
      socket.destroy()
    }, options.headTimeoutMs)
    socket.once('close', done)
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks, size)
      const headEnd = head.indexOf(HEAD_END)
      if (headEnd === -1) {
        if (size > MAX_HEAD_BYTES) {
          socket.removeListener('data', onData)
          done()
          reject(socket, '431 Request Header Fields Too Large')
        }
        return
      }
      stopReading(socket)
      socket.removeListener('data', onData)
      socket.removeListener('close', done)
      done()
      route(socket, head, headEnd, peer)
    }
    socket.on('data', onData)
    socket.resume() // pauseOnConnect: nothing is read until we ask
  })
}
