import type { Worker } from 'node:cluster'
import type { Server as HttpServer } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import type { PrimaryMetrics } from '../ops/metrics.js'
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
 * the socket itself. Health, readiness and metrics are answered by the primary.
 */

export interface BalancerOptions {
  supervisor: Supervisor
  /** Answers the primary's own routes (GET /healthz, /readyz, /metrics, and `opsPaths`). */
  opsServer: HttpServer
  opsPaths: ReadonlySet<string>
  /** A client must send its request head within this time. */
  headTimeoutMs: number
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

function reject (socket: Socket, status: string, retryAfterS?: number): void {
  const retry = retryAfterS === undefined ? '' : `Retry-After: ${retryAfterS}\r\n`
  const body = status === '503 Service Unavailable' ? '{"error":{"code":"E_OVERLOADED","message":"no worker available","retryAfterMs":1000}}' : ''
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\n${retry}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

export function createBalancer (options: BalancerOptions): Server {
  const { supervisor, opsServer, metrics } = options

  const route = (socket: Socket, head: Buffer, headEnd: number): void => {
    const lineEnd = head.indexOf('\r\n')
    const requestLine = head.toString('latin1', 0, lineEnd === -1 ? headEnd : lineEnd)
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
    worker.send({ type: 'sticky:connection', data: head }, socket, { keepOpen: false }, (error) => {
      if (error !== null && error !== undefined) socket.destroy()
    })
  }

  return createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy())
    socket.setTimeout(options.headTimeoutMs, () => socket.destroy())
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
          reject(socket, '431 Request Header Fields Too Large')
        }
        return
      }
      stopReading(socket)
      socket.removeListener('data', onData)
      socket.setTimeout(0)
      socket.removeAllListeners('timeout')
      route(socket, head, headEnd)
    }
    socket.on('data', onData)
    socket.resume() // pauseOnConnect: nothing is read until we ask
  })
}
