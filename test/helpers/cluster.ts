import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/**
 * Starts the real service (dist/src/main.js: a primary and its forked workers) on a free
 * loopback port with a fresh data directory, and tears it down (every process it started, its
 * port and its directory) when the test ends, whatever happened.
 */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const MAIN = join(ROOT, 'dist', 'src', 'main.js')
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz'

export interface LogLine {
  msg?: string
  level?: number
  role?: string
  worker?: string
  workerPid?: number
  [key: string]: unknown
}

export interface ClusterOptions {
  env?: Record<string, string>
  /** Reuse a data directory (a restart); a fresh one is made otherwise. */
  dataDir?: string
  /** Listen on this port instead of a fresh free one (to restart on the same address). */
  port?: number
  workers?: number
}

export interface ClusterHandle {
  url: string
  port: number
  /** The operations listener (/metrics, /debug/memory), on a free loopback port (OPS_PORT=0). */
  opsUrl: string
  dataDir: string
  process: ChildProcess
  logs: LogLine[]
  /** PIDs of the workers that are up now (from the primary's log lines). */
  workerPids: () => number[]
  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog: (match: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>
  /** Sends a signal and waits for the primary to exit; resolves its exit code. */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>
  exited: Promise<number | null>
}

interface Teardown { teardown: (fn: () => unknown) => void }

/** A port that was free a moment ago. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export async function startCluster (t: Teardown, options: ClusterOptions = {}): Promise<ClusterHandle> {
  const ownsDataDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'chat-test-'))
  const port = options.port ?? await freePort()
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      OPS_PORT: '0',
      WORKERS: String(options.workers ?? 2),
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: 'info',
      CONNECTION_RATE_PER_IP_PER_S: '0',
      SHUTDOWN_TIMEOUT_MS: '5000',
      ...options.env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: LogLine[] = []
  const watchers = new Set<(line: LogLine) => void>()
  const stderr: string[] = []
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      line = { msg: text }
    }
    logs.push(line)
    for (const watcher of watchers) watcher(line)
  })
  createInterface({ input: child.stderr! }).on('line', (text) => { stderr.push(text) })

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let stopped = false

  const waitForLog = async (match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => {
    const seen = logs.find(match)
    if (seen !== undefined) return seen
    return await new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        watchers.delete(watcher)
        reject(new Error(`no matching log line in ${timeoutMs} ms; stderr: ${stderr.slice(-5).join(' | ')}`))
      }, timeoutMs)
      const watcher = (line: LogLine): void => {
        if (!match(line)) return
        clearTimeout(timer)
        watchers.delete(watcher)
        resolve(line)
      }
      watchers.add(watcher)
      void exited.then((code) => {
        if (!watchers.has(watcher)) return
        clearTimeout(timer)
        watchers.delete(watcher)
        reject(new Error(`service exited (${String(code)}) before the expected log line; stderr: ${stderr.slice(-5).join(' | ')}`))
      })
    })
  }

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    stopped = true
    child.kill(signal)
    const timer = setTimeout(() => killTree(), timeoutMs)
    const code = await exited
    clearTimeout(timer)
    return code
  }

  const workerPids = (): number[] => {
    const alive = new Map<string, number>()
    for (const line of logs) {
      if (line.role !== 'primary' || line.worker === undefined || line.workerPid === undefined) continue
      if (line.msg === 'worker ready') alive.set(line.worker, line.workerPid)
      if (line.msg === 'worker exited' || line.msg?.startsWith('worker died') === true) alive.delete(line.worker)
    }
    return [...alive.values()]
  }

  const killTree = (): void => {
    for (const pid of workerPids()) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
    try { child.kill('SIGKILL') } catch {}
  }

  // A safety net: if the test process ends before its teardown ran (a teardown that threw), the
  // service's processes still go with it.
  const onExit = (): void => killTree()
  process.once('exit', onExit)
  t.teardown(async () => {
    if (!stopped) await stop('SIGTERM')
    killTree()
    process.removeListener('exit', onExit)
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  let listening: LogLine
  try {
    listening = await waitForLog((line) => line.msg === 'listening')
  } catch (error) {
    // Start-up failures are what some tests expect: hand them the service's own log lines.
    throw Object.assign(error as Error, { logs })
  }
  const opsUrl = `http://${String(listening.opsHost)}:${String(listening.opsPort)}`
  return { url: `http://127.0.0.1:${port}`, port, opsUrl, dataDir, process: child, logs, workerPids, waitForLog, stop, exited }
}
