import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { io, type Socket } from 'socket.io-client'
import { compiledPath } from '../src/paths.js'

/**
 * Leak check: cycles of thousands of connect → join → send → disconnect against a running
 * cluster, printing each worker's heap and RSS after every cycle with a GC forced in the
 * workers (GET /debug/memory?gc=1, served when DEBUG_GC_ROUTE=true). A server that leaks
 * sockets, handlers, rooms, presence entries or timers shows a heap that climbs cycle after
 * cycle; ours returns to its baseline.
 *
 *   node dist/scripts/leak-check.js --cycles 10 --clients 3000
 *
 * Without --url it starts the service itself (2 workers, a temporary data directory); with
 * --url, --ops-url names its operations listener (where /debug/memory is served).
 * Loopback only; every loop is bounded; the service it starts is stopped by PID at the end.
 */

export interface LeakCheckOptions {
  cycles: number
  clients: number
  roomSize: number
  url?: string
  /** The operations listener of the service at `url` (its /debug/memory); required with `url`. */
  opsUrl?: string
  /** Log a line per cycle. */
  print?: (line: string) => void
}

export interface WorkerMemory {
  worker: string
  rss: number
  heapUsed: number
  connections: number
  gcForced: boolean
}

export interface LeakCheckResult {
  cycles: Array<{ cycle: number, workers: WorkerMemory[], heapUsed: number, rss: number }>
  /** Heap after the last cycle minus after the first (the warm-up), in bytes, summed over workers. */
  heapGrowth: number
  rssGrowth: number
}

const SOURCE_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
/** Every request, connect and ack of the check gives up after this long (no step can hang). */
const REQUEST_TIMEOUT_MS = 20_000
const MAIN = compiledPath('src', 'main.ts')

async function memory (url: string): Promise<WorkerMemory[]> {
  const response = await fetch(`${url}/debug/memory?gc=1`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  if (!response.ok) throw new Error(`/debug/memory answered ${response.status}: start the service with DEBUG_GC_ROUTE=true`)
  return ((await response.json()) as { workers: WorkerMemory[] }).workers
}

async function signIn (url: string, username: string): Promise<string> {
  const response = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  if (response.status !== 201) throw new Error(`sign-in failed: ${response.status}`)
  return ((await response.json()) as { token: string }).token
}

/** One cycle: every client connects, joins its room, sends one message, sees its room's messages, disconnects. */
async function cycle (url: string, tokens: string[], roomSize: number, cycleNumber: number): Promise<void> {
  const sockets: Socket[] = []
  try {
    await Promise.all(tokens.map(async (token, i) => {
      const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: REQUEST_TIMEOUT_MS, localAddress: SOURCE_ADDRESSES[i % SOURCE_ADDRESSES.length] } as Parameters<typeof io>[1])
      sockets.push(socket)
      // Bounded even if the Socket.IO CONNECT is never answered (the engine's timeout covers only
      // the transport's opening).
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`client ${i}: no connect within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)
        socket.once('connect', () => { clearTimeout(timer); resolve() })
        socket.once('connect_error', (error) => { clearTimeout(timer); reject(error) })
      })
      const room = `leak-${Math.floor(i / roomSize)}`
      const joined = await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck('room:join', { room }) as { ok: boolean }
      if (!joined.ok) throw new Error('join failed')
      socket.emit('typing', { room, typing: true }, () => {})
      // A refusal with retryAfterMs (the service shedding load) is retried with the same
      // clientMsgId after that delay, as a well-behaved client does; a few times at most.
      const payload = { room, text: `cycle ${cycleNumber} client ${i}`, clientMsgId: `leak-${cycleNumber}-${i}-xxxx` }
      for (let attempt = 1; ; attempt++) {
        const sent = await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck('message:send', payload) as { ok: boolean, error?: { retryAfterMs?: number } }
        if (sent.ok) break
        const retryAfterMs = sent.error?.retryAfterMs
        if (retryAfterMs === undefined || attempt >= 5) throw new Error(`send failed: ${JSON.stringify(sent)}`)
        await new Promise((resolve) => setTimeout(resolve, retryAfterMs))
      }
    }))
  } finally {
    for (const socket of sockets) socket.close()
  }
}

export async function runLeakCheck (options: LeakCheckOptions): Promise<LeakCheckResult> {
  const print = options.print ?? (() => {})
  let url = options.url
  let opsUrl = options.opsUrl ?? options.url
  let stopService = async (): Promise<void> => {}
  if (url === undefined || opsUrl === undefined) {
    const started = await startService()
    url = started.url
    opsUrl = started.opsUrl
    stopService = started.stop
  }
  try {
    const tokens = await Promise.all(Array.from({ length: options.clients }, async (_, i) => await signIn(url as string, `leak${i}`)))
    const cycles: LeakCheckResult['cycles'] = []
    for (let c = 1; c <= options.cycles; c++) {
      await cycle(url, tokens, options.roomSize, c)
      // Bounded wait for every connection to be gone on the server side.
      for (let i = 0; i < 100; i++) {
        const now = await memory(opsUrl)
        if (now.every((worker) => worker.connections === 0)) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      // Presence keeps a user "online" for its grace period; let it pass before measuring.
      await new Promise((resolve) => setTimeout(resolve, 500))
      const workers = await memory(opsUrl)
      const heapUsed = workers.reduce((sum, worker) => sum + worker.heapUsed, 0)
      const rss = workers.reduce((sum, worker) => sum + worker.rss, 0)
      cycles.push({ cycle: c, workers, heapUsed, rss })
      print(`cycle ${String(c).padStart(2)}: heap ${(heapUsed / 2 ** 20).toFixed(1)} MB, rss ${(rss / 2 ** 20).toFixed(1)} MB  ` +
        workers.map((w) => `[worker ${w.worker}: heap ${(w.heapUsed / 2 ** 20).toFixed(1)} MB, rss ${(w.rss / 2 ** 20).toFixed(1)} MB, gc ${w.gcForced ? 'forced' : 'NOT forced'}]`).join(' '))
    }
    const first = cycles[0] as LeakCheckResult['cycles'][number]
    const last = cycles[cycles.length - 1] as LeakCheckResult['cycles'][number]
    return { cycles, heapGrowth: last.heapUsed - first.heapUsed, rssGrowth: last.rss - first.rss }
  } finally {
    await stopService()
  }
}

async function startService (): Promise<{ url: string, opsUrl: string, stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-leak-'))
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      OPS_PORT: '0',
      HOST: '127.0.0.1',
      WORKERS: process.env.WORKERS ?? '2',
      DATA_DIR: dataDir,
      DEBUG_GC_ROUTE: 'true',
      PRESENCE_GRACE_MS: '200',
      CONNECTION_RATE_PER_IP_PER_S: '0',
      REST_SESSIONS_PER_MIN: '1000000',
      SHED_EVENT_LOOP_DELAY_MS: '0', // measure memory, not load shedding
      MAX_CONNECTIONS_PER_IP: '0', // every client is on loopback
      MAX_HEADS_PER_IP: '0',
      LOG_LEVEL: 'info', // the 'listening' line carries the port
      JWT_SECRET: 'leak-check-secret-0123456789-abcdefghijklmnop'
    },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
    rmSync(dataDir, { recursive: true, force: true })
  }
  const { port, opsPort } = await new Promise<{ port: number, opsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('service did not start in 30 s')), 30_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { msg?: string, port?: number, opsPort?: number }
        if (parsed.msg === 'listening' && parsed.port !== undefined && parsed.opsPort !== undefined) {
          clearTimeout(timer)
          resolve({ port: parsed.port, opsPort: parsed.opsPort })
        }
      } catch {}
    })
    void exited.then(() => reject(new Error('service exited during start')))
  }).catch(async (error: unknown) => { await stop(); throw error })
  return { url: `http://127.0.0.1:${port}`, opsUrl: `http://127.0.0.1:${opsPort}`, stop }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      cycles: { type: 'string', default: '10' },
      clients: { type: 'string', default: '3000' },
      'room-size': { type: 'string', default: '20' },
      url: { type: 'string' },
      'ops-url': { type: 'string' }
    }
  })
  const options: LeakCheckOptions = {
    cycles: Number(values.cycles),
    clients: Number(values.clients),
    roomSize: Number(values['room-size']),
    print: (line) => console.log(line)
  }
  if (values.url !== undefined) options.url = values.url
  if (values['ops-url'] !== undefined) options.opsUrl = values['ops-url']
  console.log(`leak check: ${options.cycles} cycles × ${options.clients} clients (rooms of ${options.roomSize})`)
  const result = await runLeakCheck(options)
  const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`
  console.log(`heap growth from cycle 1 to ${options.cycles}: ${mb(result.heapGrowth)}; rss growth: ${mb(result.rssGrowth)}`)
}
