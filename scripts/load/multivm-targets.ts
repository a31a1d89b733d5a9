import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { freePort, type PostgresServer, type RedisServer } from '../services.js'
import { processTree, TreeMeter, type TreeSample } from './proc.js'
import { stopTree, track } from './reaper.js'
import { BENCH_SECRET, ROOT, startTarget, type SourceState, type Target } from './targets.js'

/**
 * What bench-multivm runs its clients against: a deployment of one or more "VMs" on this
 * machine, each its own process tree on its own loopback port.
 * - `one-vm`, `two-vms`: one or two of our clusters (dist/src/main.js) with STORE=postgres and
 *   REDIS_URL, sharing one private PostgreSQL and one Redis (scripts/services.ts);
 * - `sqlite`: one of our clusters on its default store, no Redis (the single-VM baseline);
 * - `plain-redis`: two plain Socket.IO processes on @socket.io/redis-adapter
 *   (scripts/load/plain-redis-server.ts) sharing the same Redis.
 * Our clusters start through the load harness's startTarget (the benchmark settings, the
 * listening line, warnings, kill by PID); the reference processes the same way here. CPU is
 * read from /proc for the deployment's process trees and, apart, for PostgreSQL and Redis.
 */

export type MultiVmConfigName = 'one-vm' | 'two-vms' | 'sqlite' | 'plain-redis'
export const MULTIVM_CONFIGS: readonly MultiVmConfigName[] = ['one-vm', 'two-vms', 'sqlite', 'plain-redis']

export const CONFIG_LABELS: Record<MultiVmConfigName, string> = {
  'one-vm': 'ours, 1 VM, PostgreSQL + Redis',
  'two-vms': 'ours, 2 VMs, PostgreSQL + Redis',
  sqlite: 'ours, 1 VM, SQLite',
  'plain-redis': 'plain Socket.IO, Redis adapter, ×2'
}

/** Per-user limits of ours raised as in bench-scale, so they do not cap a throughput test. */
export const LIMITS_FOR_THROUGHPUT: Record<string, string> = {
  MESSAGE_RATE_PER_S: '1000',
  MESSAGE_BURST: '2000',
  EVENT_RATE_PER_S: '1000',
  EVENT_BURST: '2000'
}

/** The service's own WORKERS default (src/config.ts): one core left to the primary and the store. */
export const SERVICE_DEFAULT_WORKERS = Math.max(1, availableParallelism() - 1)

export interface Backends {
  pg: PostgresServer
  redis: RedisServer
}

/** One VM of a deployment: a process tree serving clients on its own port. */
export interface Vm {
  index: number
  url: string
  pid: number
  meter: TreeMeter
  /** Ours: the operations listener (/metrics). */
  opsPort: number | undefined
  exitedEarly: () => string | undefined
  stop: () => Promise<void>
}

export interface Deployment {
  config: MultiVmConfigName
  label: string
  vms: Vm[]
  /** What every VM was started with, beyond PORT/HOST/JWT_SECRET/DATA_DIR and the backends' URLs. */
  settings: Record<string, string>
  source: SourceState | undefined
  /** Warnings and errors our servers logged so far, counted by message. */
  warnings: () => Record<string, number>
  /** CPU seconds and RSS of each VM's processes, in VM order. */
  sample: () => TreeSample[]
  exitedEarly: () => string | undefined
  stop: () => Promise<void>
}

export interface DeploymentOptions {
  /** WORKERS of each of our clusters; the service's default when undefined. */
  workers?: string
  /** More settings for our clusters (`--env`). */
  env?: Record<string, string>
}

function fromTarget (index: number, target: Target, opsPort: number | undefined): Vm {
  return { index, url: target.url, pid: target.pid, meter: target.meter, opsPort, exitedEarly: target.exitedEarly, stop: target.stop }
}

/** Starts one reference process (plain-redis-server.js) and resolves once it listens. */
async function startPlainRedis (index: number, redisUrl: string): Promise<Vm> {
  const entry = join(ROOT, 'dist', 'scripts', 'load', 'plain-redis-server.js')
  const env = { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', JWT_SECRET: BENCH_SECRET, NODE_ENV: 'production', REDIS_URL: redisUrl }
  const child: ChildProcess = spawn(process.execPath, [entry], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  track(child, `plain-redis ${index}`)
  const stderr: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line)
    if (stderr.length > 20) stderr.shift()
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`plain-redis ${index} did not start in 30 s: ${stderr.join(' | ')}`)), 30_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`plain-redis ${index} exited (${String(code)}) before listening: ${stderr.join(' | ')}`))
    })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed: { msg?: string, port?: number }
      try { parsed = JSON.parse(line) as typeof parsed } catch { return }
      if (parsed.msg === 'listening' && typeof parsed.port === 'number') {
        clearTimeout(timer)
        resolve(parsed.port)
      }
    })
  }).catch(async (error: unknown) => {
    await stopTree(child, 'SIGKILL', 1000)
    throw error
  })
  let stopping = false
  let exitedEarly: string | undefined
  child.once('exit', (code, signal) => {
    if (!stopping) exitedEarly = `plain-redis ${index} exited by itself (${signal ?? `code ${String(code)}`}): ${stderr.slice(-5).join(' | ')}`
  })
  return {
    index,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    meter: new TreeMeter(child.pid as number),
    opsPort: undefined,
    exitedEarly: () => exitedEarly,
    stop: async () => {
      stopping = true
      await stopTree(child, 'SIGTERM', 5000)
    }
  }
}

/** Starts a configuration's VMs; whatever started is stopped again if one of them fails. */
export async function startDeployment (config: MultiVmConfigName, backends: Backends, options: DeploymentOptions = {}): Promise<Deployment> {
  const vms: Vm[] = []
  const targets: Target[] = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(vms.map(async (vm) => await vm.stop().catch(() => {})))
  }
  let settings: Record<string, string> = {}
  try {
    if (config === 'plain-redis') {
      for (let index = 0; index < 2; index++) vms.push(await startPlainRedis(index, backends.redis.url))
      settings = { processes: '2', adapter: '@socket.io/redis-adapter' }
    } else {
      const count = config === 'two-vms' ? 2 : 1
      const store = config === 'sqlite' ? {} : { STORE: 'postgres', DATABASE_URL: backends.pg.url, REDIS_URL: backends.redis.url }
      settings = { WORKERS: options.workers ?? String(SERVICE_DEFAULT_WORKERS), ...LIMITS_FOR_THROUGHPUT, ...(config === 'sqlite' ? {} : { STORE: 'postgres' }), ...options.env }
      for (let index = 0; index < count; index++) {
        const opsPort = await freePort()
        const target = await startTarget('ours', { ourEnv: { ...settings, ...store, OPS_PORT: String(opsPort) } })
        targets.push(target)
        vms.push(fromTarget(index, target, opsPort))
      }
    }
  } catch (error) {
    await stopAll()
    throw error
  }
  const first = targets[0]
  // The backends' URLs and the operations ports change every run: not settings.
  const recorded = Object.fromEntries(Object.entries(first?.settings ?? settings).filter(([key]) => !['DATABASE_URL', 'REDIS_URL', 'OPS_PORT'].includes(key)))
  return {
    config,
    label: CONFIG_LABELS[config],
    vms,
    settings: recorded,
    source: first?.source,
    warnings: () => {
      const counts: Record<string, number> = {}
      for (const target of targets) for (const [message, count] of Object.entries(target.warnings)) counts[message] = (counts[message] ?? 0) + count
      return counts
    },
    sample: () => vms.map((vm) => vm.meter.sample()),
    exitedEarly: () => vms.map((vm) => vm.exitedEarly()).find((reason) => reason !== undefined),
    stop: stopAll
  }
}

/** CPU of the shared backends, read from /proc apart from the VMs'. */
export interface BackendSample {
  atMs: number
  postgresCpuS: number
  redisCpuS: number
}

/** Samples PostgreSQL (the postmaster and every backend under it) and Redis. */
export class BackendMeter {
  readonly #pg: PostgresServer
  readonly #redis: RedisServer

  constructor (backends: Backends) {
    this.#pg = backends.pg
    this.#redis = backends.redis
  }

  #postmasterPid (): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.#pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
      return Number.isInteger(pid) && pid > 0 ? pid : undefined
    } catch {
      return undefined
    }
  }

  sample (): BackendSample {
    const postmaster = this.#postmasterPid()
    return {
      atMs: performance.now(),
      postgresCpuS: postmaster === undefined ? 0 : new TreeMeter(postmaster).sample().cpuS,
      redisCpuS: this.#redis.pid === 0 ? 0 : new TreeMeter(this.#redis.pid).sample().cpuS
    }
  }

  /** PIDs of the backends' processes now (to tell them from other load on the machine). */
  pids (): number[] {
    const postmaster = this.#postmasterPid()
    return [...(postmaster === undefined ? [] : processTree(postmaster)), ...(this.#redis.pid === 0 ? [] : [this.#redis.pid])]
  }
}

/** Cores used by PostgreSQL and Redis between two samples. */
export function backendCoresBetween (start: BackendSample, end: BackendSample): { postgres: number, redis: number } {
  const seconds = (end.atMs - start.atMs) / 1000
  if (seconds <= 0) return { postgres: 0, redis: 0 }
  return { postgres: (end.postgresCpuS - start.postgresCpuS) / seconds, redis: (end.redisCpuS - start.redisCpuS) / seconds }
}

/** What our VMs say about each other in /metrics (summed over the VMs). */
export interface CrossVmMetrics {
  /** chat_crossvm_messages_received_total: counted by every worker that received one. */
  receivedTotal: number
  /** Mean of chat_crossvm_lag_seconds (commit on one VM → arrival on another), in ms. */
  lagMeanMs: number
  lagCount: number
}

/** Reads the cross-VM counters of our VMs; undefined for a deployment without them. */
export async function crossVmMetrics (deployment: Deployment): Promise<CrossVmMetrics | undefined> {
  const ops = deployment.vms.flatMap((vm) => vm.opsPort === undefined ? [] : [vm.opsPort])
  if (ops.length === 0 || deployment.config === 'sqlite') return undefined
  let receivedTotal = 0
  let lagSum = 0
  let lagCount = 0
  for (const port of ops) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
    for (const line of text.split('\n')) {
      const match = /^(chat_crossvm_messages_received_total|chat_crossvm_lag_seconds_sum|chat_crossvm_lag_seconds_count)(\{[^}]*\})?\s+(\S+)$/.exec(line)
      if (match === null) continue
      const value = Number(match[3])
      if (match[1] === 'chat_crossvm_messages_received_total') receivedTotal += value
      else if (match[1] === 'chat_crossvm_lag_seconds_sum') lagSum += value
      else lagCount += value
    }
  }
  return { receivedTotal, lagMeanMs: lagCount === 0 ? 0 : Math.round((lagSum / lagCount) * 1e6) / 1000, lagCount }
}
