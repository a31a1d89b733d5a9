import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { PrimaryMetrics } from '../ops/metrics.js'
import { isControlMessage, type MemoryReport, type PrimaryToWorker, type WorkerToPrimary } from './messages.js'

/**
 * The primary's view of its Socket.IO workers: forks them, knows which are ready and which
 * Engine.IO sessions each owns (from sticky's worker-side reports), respawns one that dies with
 * exponential backoff, replaces them one at a time on a rolling restart and drains them all on
 * shutdown. Connections only ever go to a ready worker.
 */

export interface SupervisorOptions {
  workers: number
  respawnBackoffMaxMs: number
  /** How long a worker may take to report ready. */
  startTimeoutMs: number
  logger: Logger
  metrics: PrimaryMetrics
}

interface WorkerState {
  worker: Worker
  id: string
  ready: boolean
  /** Set while it is being replaced or drained: it gets no new sessions and is not respawned. */
  retiring: boolean
  sessions: number
  /** Handshakes handed to it that have not yet become sessions (spreads a burst of connects). */
  pending: number
  startedAt: number
}

const STABLE_AFTER_MS = 10_000
const PENDING_DECAY_MS = 5000

export class Supervisor {
  readonly #options: SupervisorOptions
  readonly #states = new Map<string, WorkerState>()
  readonly #sessions = new Map<string, WorkerState>()
  readonly #readyWaiters = new Map<string, Array<(ok: boolean) => void>>()
  readonly #memoryRequests = new Map<number, { reports: MemoryReport[], waiting: number, done: () => void }>()
  #nextRequestId = 1
  #failures = 0
  #started = false
  #stopping = false
  #roundRobin = 0
  readonly #decayTimer: NodeJS.Timeout

  constructor (options: SupervisorOptions) {
    this.#options = options
    cluster.on('message', (worker, message) => this.#onMessage(worker, message))
    cluster.on('exit', (worker, code, signal) => this.#onExit(worker, code, signal))
    this.#decayTimer = setInterval(() => { for (const state of this.#states.values()) state.pending = 0 }, PENDING_DECAY_MS).unref()
  }

  /** Forks every worker; resolves when all are ready, rejects if one fails to start. */
  async start (): Promise<void> {
    const started = Array.from({ length: this.#options.workers }, async () => await this.#forkAndWait())
    const results = await Promise.all(started)
    if (results.some((ok) => !ok)) throw new Error('a worker failed to start (see its log lines above)')
    this.#started = true
  }

  get readyCount (): number {
    let count = 0
    for (const state of this.#states.values()) if (state.ready && !state.retiring) count++
    return count
  }

  /** True when the configured number of workers serve. */
  get allReady (): boolean {
    return this.readyCount >= this.#options.workers
  }

  get stopping (): boolean {
    return this.#stopping
  }

  /** Workers that can answer IPC requests (metrics). */
  connectedWorkers (): Worker[] {
    return [...this.#states.values()].filter((state) => state.ready && state.worker.isConnected()).map((state) => state.worker)
  }

  /** The ready worker that owns an Engine.IO session, if any. */
  ownerOf (sid: string): Worker | undefined {
    const state = this.#sessions.get(sid)
    return state !== undefined && state.ready ? state.worker : undefined
  }

  /** A worker for a new Socket.IO session: fewest sessions plus handshakes in flight. */
  pickForSession (): Worker | undefined {
    let best: WorkerState | undefined
    for (const state of this.#states.values()) {
      if (!state.ready || state.retiring) continue
      if (best === undefined || state.sessions + state.pending < best.sessions + best.pending) best = state
    }
    if (best !== undefined) best.pending++
    return best?.worker
  }

  /** A worker for a plain HTTP request (REST, static files): round robin over ready workers. */
  pickAny (): Worker | undefined {
    const ready = [...this.#states.values()].filter((state) => state.ready && !state.retiring)
    if (ready.length === 0) return undefined
    return (ready[this.#roundRobin++ % ready.length] as WorkerState).worker
  }

  /** Each ready worker's memory, optionally after a forced GC (the leak check's probe). */
  async memory (gc: boolean, timeoutMs: number): Promise<MemoryReport[]> {
    const workers = this.connectedWorkers()
    const requestId = this.#nextRequestId++
    const request = { reports: [] as MemoryReport[], waiting: workers.length, done: () => {} }
    const finished = new Promise<void>((resolve) => {
      request.done = resolve
      setTimeout(resolve, timeoutMs).unref()
    })
    this.#memoryRequests.set(requestId, request)
    for (const worker of workers) this.#send(worker, { type: 'chat:memory', requestId, gc })
    if (workers.length === 0) request.done()
    await finished
    this.#memoryRequests.delete(requestId)
    return request.reports.sort((a, b) => Number(a.worker) - Number(b.worker))
  }

  /** Replaces every worker, one at a time: fork a fresh one, wait until it serves, drain the old one. */
  async rollingRestart (drainDeadlineMs: number): Promise<void> {
    const old = [...this.#states.values()].filter((state) => !state.retiring)
    for (const state of old) {
      if (this.#stopping) return
      const ok = await this.#forkAndWait()
      if (!ok) throw new Error('replacement worker failed to start; rolling restart stopped')
      state.retiring = true
      await this.#drain(state, drainDeadlineMs)
    }
    this.#options.metrics.rollingRestarts.inc()
  }

  /** Drains every worker at once (clients reconnect elsewhere later), within the deadline. */
  async stop (deadlineMs: number): Promise<void> {
    this.#stopping = true
    clearInterval(this.#decayTimer)
    await Promise.all([...this.#states.values()].map(async (state) => {
      state.retiring = true
      await this.#drain(state, deadlineMs)
    }))
  }

  #send (worker: Worker, message: PrimaryToWorker): void {
    if (worker.isConnected()) worker.send(message, undefined, () => {})
  }

  async #drain (state: WorkerState, deadlineMs: number): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (state.worker.isDead()) resolve()
      else state.worker.once('exit', () => resolve())
    })
    this.#send(state.worker, { type: 'chat:drain', deadlineMs })
    const timer = setTimeout(() => {
      this.#options.logger.warn({ worker: state.id }, 'worker did not drain in time; killing it')
      state.worker.process.kill('SIGKILL')
    }, deadlineMs + 1000)
    await exited
    clearTimeout(timer)
  }

  async #forkAndWait (): Promise<boolean> {
    const worker = cluster.fork()
    const id = String(worker.id)
    const state: WorkerState = { worker, id, ready: false, retiring: false, sessions: 0, pending: 0, startedAt: Date.now() }
    this.#states.set(id, state)
    this.#options.logger.info({ worker: id, workerPid: worker.process.pid }, 'worker forked')
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#options.logger.error({ worker: id }, 'worker did not become ready in time')
        settle(false)
        worker.process.kill('SIGKILL')
      }, this.#options.startTimeoutMs)
      const settle = (ok: boolean): void => {
        clearTimeout(timer)
        this.#readyWaiters.delete(id)
        resolve(ok)
      }
      this.#readyWaiters.set(id, [settle])
    })
  }

  #onMessage (worker: Worker, message: unknown): void {
    const state = this.#states.get(String(worker.id))
    if (state === undefined) return
    const sticky = message as { type?: string, data?: unknown }
    if (sticky.type === 'sticky:connection' && typeof sticky.data === 'string') {
      this.#sessions.set(sticky.data, state)
      state.sessions++
      if (state.pending > 0) state.pending--
      return
    }
    if (sticky.type === 'sticky:disconnection' && typeof sticky.data === 'string') {
      if (this.#sessions.get(sticky.data) === state) this.#sessions.delete(sticky.data)
      state.sessions = Math.max(0, state.sessions - 1)
      return
    }
    if (!isControlMessage(message)) return
    const control = message as WorkerToPrimary
    if (control.type === 'chat:memory-report') {
      const request = this.#memoryRequests.get(control.requestId)
      if (request === undefined) return
      request.reports.push(control.report)
      if (--request.waiting === 0) request.done()
      return
    }
    if (control.type === 'chat:ready') {
      state.ready = true
      this.#updateGauge()
      this.#options.logger.info({ worker: state.id, workerPid: worker.process.pid }, 'worker ready')
      for (const resolve of this.#readyWaiters.get(state.id) ?? []) resolve(true)
    }
  }

  #onExit (worker: Worker, code: number | null, signal: string | null): void {
    const id = String(worker.id)
    const state = this.#states.get(id)
    if (state === undefined) return
    this.#states.delete(id)
    for (const [sid, owner] of this.#sessions) if (owner === state) this.#sessions.delete(sid)
    this.#updateGauge()
    for (const other of this.#states.values()) this.#send(other.worker, { type: 'chat:worker-exit', workerId: id })
    for (const resolve of this.#readyWaiters.get(id) ?? []) resolve(false)

    const expected = state.retiring || this.#stopping
    const log = { worker: id, workerPid: worker.process.pid, code, signal }
    if (expected) {
      this.#options.logger.info(log, 'worker exited')
      return
    }
    if (!this.#started) {
      // During the first start a dead worker is a start-up failure: start() reports it.
      this.#options.logger.error(log, 'worker exited before it was ready')
      return
    }
    const lived = Date.now() - state.startedAt
    this.#failures = state.ready && lived >= STABLE_AFTER_MS ? 1 : this.#failures + 1
    const delay = Math.min(this.#options.respawnBackoffMaxMs, 100 * 2 ** (this.#failures - 1))
    this.#options.metrics.respawns.inc({ reason: signal ?? `exit_${String(code)}` })
    this.#options.logger.error({ ...log, respawnInMs: delay }, state.ready ? 'worker died; respawning' : 'worker died before it was ready; respawning')
    setTimeout(() => {
      if (!this.#stopping) void this.#forkAndWait()
    }, delay).unref()
  }

  #updateGauge (): void {
    this.#options.metrics.workersReady.set(this.readyCount)
  }
}
