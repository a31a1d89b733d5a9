import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { TreeMeter } from './proc.js'
import { stopTree, track } from './reaper.js'

/**
 * The three servers a benchmark compares, started the same way as child processes on a free
 * loopback port: ours (dist/src/main.js: a primary and its workers, a fresh store), the plain
 * Socket.IO reference and the raw ws reference (scripts/baselines/). Each can be measured from
 * outside (CPU and RSS of its whole process tree) and asked for its heap and connections.
 */

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
export const BENCH_SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz'
const TMP = join(ROOT, '.bench-tmp')

/** The server's source when it started: the commit, and the files of src/ or workers/ changed on top of it. */
export interface SourceState {
  commit: string
  uncommittedServerChanges: string[]
}

export function sourceState (): SourceState {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'workers'], { cwd: ROOT, encoding: 'utf8' })
    return { commit, uncommittedServerChanges: status.split('\n').filter((line) => line.trim() !== '').map((line) => line.slice(3)) }
  } catch {
    return { commit: 'unknown', uncommittedServerChanges: [] }
  }
}

export type TargetKind = 'ours' | 'plain' | 'raw' | 'raw-unbatched'

export const TARGET_LABELS: Record<TargetKind, string> = {
  ours: 'ours (cluster, durable)',
  plain: 'plain Socket.IO',
  raw: 'raw ws (batched writes)',
  'raw-unbatched': 'plain ws (a write per frame)'
}

export interface TargetOptions {
  /** Environment for our server (WORKERS, limits…); the references have no settings. */
  ourEnv?: Record<string, string>
  /** Write a V8 CPU profile of every server process (main threads) into this directory (--cpu-prof). */
  cpuProfileDir?: string
  /** More node flags for the server (they reach our cluster workers too), e.g. --heapsnapshot-signal. */
  nodeFlags?: string[]
}

export interface Target {
  kind: TargetKind
  url: string
  port: number
  pid: number
  meter: TreeMeter
  /** The environment the server was started with, beyond PORT/HOST/JWT_SECRET/DATA_DIR. */
  settings: Record<string, string>
  /** Ours: the source it was started from (the tree may change while a benchmark runs). */
  source: SourceState | undefined
  /**
   * Heap used (bytes) summed over the server's processes, and its open connections; undefined
   * when the server cannot answer (e.g. a process out of file descriptors cannot accept one more).
   */
  stats: () => Promise<{ heapUsedBytes: number, connections: number } | undefined>
  /** Warnings and errors the server logged, counted by message (ours: shedding, slow consumers). */
  warnings: Record<string, number>
  /** Set when the server exited before the benchmark stopped it: how, and its last stderr lines. */
  exitedEarly: () => string | undefined
  stop: () => Promise<void>
}

/** The settings our server runs with in every benchmark unless a benchmark says otherwise. */
export const OUR_BENCH_ENV: Record<string, string> = {
  CONNECTION_RATE_PER_IP_PER_S: '0',
  // Every simulated user connects from loopback: per-address quotas off, guests on (NODE_ENV=production).
  MAX_CONNECTIONS_PER_IP: '0',
  MAX_HEADS_PER_IP: '0',
  GUESTS: 'true',
  REST_SESSIONS_PER_MIN: '1000000',
  LOG_LEVEL: 'info'
}

function entryFor (kind: TargetKind): string {
  if (kind === 'ours') return join(ROOT, 'dist', 'src', 'main.js')
  return join(ROOT, 'dist', 'scripts', 'baselines', kind === 'plain' ? 'plain-socketio.js' : 'raw-ws.js')
}

async function parsePrometheus (url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line)
    if (match === null) continue
    const key = `${match[1] ?? ''}${match[2] ?? ''}`
    values.set(key, Number(match[3]))
  }
  return values
}

function sum (values: Map<string, number>, name: string, labelPart = ''): number {
  let total = 0
  for (const [key, value] of values) if ((key === name || key.startsWith(`${name}{`)) && key.includes(labelPart)) total += value
  return total
}

/** Starts one server and resolves once it listens. */
export async function startTarget (kind: TargetKind, options: TargetOptions = {}): Promise<Target> {
  mkdirSync(TMP, { recursive: true })
  const source = kind === 'ours' ? sourceState() : undefined
  const dataDir = kind === 'ours' ? mkdtempSync(join(TMP, 'data-')) : undefined
  const settings: Record<string, string> = kind === 'ours'
    ? { WORKERS: '2', ...OUR_BENCH_ENV, ...options.ourEnv }
    : kind === 'raw-unbatched' ? { BATCH_WRITES: 'false' } : {}
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    JWT_SECRET: BENCH_SECRET,
    NODE_ENV: 'production',
    ...(dataDir === undefined ? {} : { DATA_DIR: dataDir }),
    ...settings
  }
  // Node refuses --cpu-prof in NODE_OPTIONS; as a flag it reaches cluster workers too (execArgv).
  const flags: string[] = [...options.nodeFlags ?? []]
  if (options.cpuProfileDir !== undefined) {
    mkdirSync(options.cpuProfileDir, { recursive: true })
    flags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`)
  }
  const child: ChildProcess = spawn(process.execPath, [...flags, entryFor(kind)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  track(child, kind)
  const stderr: string[] = []
  const warnings: Record<string, number> = {}
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line)
    if (stderr.length > 20) stderr.shift()
  })
  let opsPort: number | undefined
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start in 30 s: ${stderr.join(' | ')}`)), 30_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${kind} exited (${String(code)}) before listening: ${stderr.join(' | ')}`))
    })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed: { msg?: string, port?: number, opsPort?: number }
      try { parsed = JSON.parse(line) as typeof parsed } catch { return }
      if (parsed.msg === 'listening' && typeof parsed.port === 'number') {
        clearTimeout(timer)
        opsPort = parsed.opsPort
        resolve(parsed.port)
        return
      }
      // pino writes its own level first; a logged field named `level` may repeat the key later.
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0)
      if (level >= 40) {
        const message = parsed.msg ?? 'unknown'
        warnings[message] = (warnings[message] ?? 0) + 1
        if (level >= 50) process.stderr.write(`[${kind}] ${line}\n`)
      }
    })
  })
  let stopping = false
  let exitedEarly: string | undefined
  child.once('exit', (code, signal) => {
    if (stopping) return
    exitedEarly = `the server exited by itself (${signal ?? `code ${String(code)}`})${stderr.length > 0 ? `: ${stderr.slice(-5).join(' | ')}` : ''}`
    process.stderr.write(`\n[${kind}] ${exitedEarly}\n`)
  })
  const url = `http://127.0.0.1:${port}`
  const read = kind === 'ours'
    ? async () => {
      // Ours serves /metrics on its operations listener, not the public port.
      const values = await parsePrometheus(`http://127.0.0.1:${String(opsPort)}`)
      return { heapUsedBytes: sum(values, 'chat_worker_memory_bytes', 'kind="heapUsed"'), connections: sum(values, 'chat_connections') }
    }
    : async () => {
      const body = await (await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5000) })).json() as { heapUsed: number, connections: number }
      return { heapUsedBytes: body.heapUsed, connections: body.connections }
    }
  const stats = async (): Promise<{ heapUsedBytes: number, connections: number } | undefined> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      try { return await read() } catch {}
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    return undefined
  }
  return {
    kind,
    url,
    port,
    pid: child.pid as number,
    meter: new TreeMeter(child.pid as number),
    settings,
    source,
    stats,
    warnings,
    exitedEarly: () => exitedEarly,
    stop: async () => {
      stopping = true
      await stopTree(child, 'SIGTERM', options.cpuProfileDir === undefined ? 8000 : 30_000)
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
