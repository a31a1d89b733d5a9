import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

/**
 * Private PostgreSQL and Redis servers for tests and benchmarks: each on a free port of
 * 127.0.0.1, with its data in a fresh temporary directory, removed by `stop()`. Only processes
 * started here are ever signalled, by their PID, and every wait is bounded. A process that exits
 * without stopping them (a crashed test) still kills them on its way out.
 *
 * PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the `postgres` user
 * (runuser) in a directory that user owns; otherwise they run as the current user. The binaries
 * come from PG_BIN_DIR, else the newest /usr/lib/postgresql/<version>/bin, else PATH.
 */

const run = promisify(execFile)

/** The name the service's connections carry (src/store/postgres/pg-pool.ts). */
const SERVICE_APPLICATION_NAME = 'chat-service'
const ADMIN_APPLICATION_NAME = 'chat-services-admin'

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:PORT/chat` */
  url: string
  port: number
  /** The cluster's data directory. */
  dataDir: string
  /** Ends the service's connections (pg_terminate_backend by application_name); how many there were. */
  terminateService: () => Promise<number>
  /** Stops the server (fast shutdown), keeping its data; `startServer` brings it back on the same port. */
  stopServer: () => Promise<void>
  startServer: () => Promise<void>
  /** Stops the server and removes its directory; idempotent. */
  stop: () => Promise<void>
}

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  url: string
  port: number
  /** The running server's PID (a new one after restart). */
  pid: number
  /** Kills the server with SIGKILL and waits for it to exit. */
  kill: () => Promise<void>
  /** A fresh, empty server on the same port (killing the running one first). */
  restart: () => Promise<void>
  /** Stops the server and removes its directory; idempotent. */
  stop: () => Promise<void>
}

/** Cleanup for whatever is still running when the process exits. */
const running = new Set<() => void>()
let exitHookInstalled = false
function onExit (cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => { for (const fn of running) fn() })
  }
  running.add(cleanup)
  return () => running.delete(cleanup)
}

/** A port free on 127.0.0.1 right now (bound to port 0, then released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { port > 0 ? resolve(port) : reject(new Error('no free port')) })
    })
  })
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Waits (at most `timeoutMs`) for a process to be gone; whether it is. */
async function waitGone (pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (alive(pid)) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

/** Retries `probe` until it resolves true or `timeoutMs` passes; throws `what` on timeout. */
async function until (what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await probe().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`)
    await sleep(50)
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function pgBinDir (): string | undefined {
  if (process.env.PG_BIN_DIR !== undefined && process.env.PG_BIN_DIR !== '') return process.env.PG_BIN_DIR
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a))
  const found = versions.map((version) => join(root, version, 'bin')).find((dir) => existsSync(join(dir, 'pg_ctl')))
  return found
}

export interface PostgresOptions {
  /** Extra `-c name=value` settings of the server. */
  settings?: Record<string, string | number>
  /** How long start-up may take (default 60 s). */
  startTimeoutMs?: number
}

export async function startPostgres (options: PostgresOptions = {}): Promise<PostgresServer> {
  const binDir = pgBinDir()
  const bin = (name: string): string => binDir === undefined ? name : join(binDir, name)
  const asRoot = process.getuid?.() === 0
  const root = mkdtempSync(join(tmpdir(), 'chat-pg-'))
  const dataDir = join(root, 'data')
  const logFile = join(root, 'server.log')
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    chownSync(root, Number(stdout.trim()), Number(gid.trim()))
  }
  /** Runs a PostgreSQL program as the user that owns the cluster. */
  const pgRun = async (program: string, args: string[], timeoutMs: number): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin(program), ...args]] : [bin(program), args]
    await run(file, argv, { cwd: root, timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' } })
  }

  const port = await freePort()
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    fsync: 'on',
    max_connections: 200,
    ...options.settings
  }
  const serverOptions = [`-p ${port}`, `-k ${root}`, ...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`)].join(' ')
  const startTimeoutMs = options.startTimeoutMs ?? 60_000
  const postmasterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
      return Number.isInteger(pid) && pid > 0 ? pid : undefined
    } catch {
      return undefined
    }
  }
  const admin = async <T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database, application_name: ADMIN_APPLICATION_NAME, connectionTimeoutMillis: 5000 })
    client.on('error', () => {})
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end().catch(() => {})
    }
  }

  let started = false
  const startServer = async (): Promise<void> => {
    await pgRun('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', String(Math.ceil(startTimeoutMs / 1000)), 'start'], startTimeoutMs + 5000)
    started = true
    await until('PostgreSQL accepting connections', startTimeoutMs, async () => await admin('postgres', async () => true))
  }
  const stopServer = async (): Promise<void> => {
    if (!started) return
    const pid = postmasterPid()
    try {
      await pgRun('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop'], 35_000)
    } catch {
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL')
    }
    if (pid !== undefined) await waitGone(pid, 10_000)
    started = false
  }
  let stopping: Promise<void> | undefined
  const forget = onExit(() => {
    const pid = postmasterPid()
    if (started && pid !== undefined) try { process.kill(pid, 'SIGQUIT') } catch {}
    rmSync(root, { recursive: true, force: true })
  })
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await stopServer()
      } finally {
        rmSync(root, { recursive: true, force: true })
        forget()
      }
    })()
    await stopping
  }

  try {
    await pgRun('initdb', ['-D', dataDir, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], 120_000)
    await startServer()
    await admin('postgres', async (client) => { await client.query('CREATE DATABASE chat') })
  } catch (error) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : ''
    await stop()
    throw new Error(`could not start PostgreSQL: ${(error as Error).message}${log === '' ? '' : `\n${log}`}`)
  }

  return {
    url: `postgres://postgres@127.0.0.1:${port}/chat`,
    port,
    dataDir,
    terminateService: async () => await admin('postgres', async (client) => {
      const { rows } = await client.query<{ count: number }>(
        'SELECT count(*)::int AS count FROM (SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1) AS t WHERE ended',
        [SERVICE_APPLICATION_NAME])
      return rows[0]?.count ?? 0
    }),
    stopServer,
    startServer,
    stop
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

/** Whether a Redis server answers PING on the port. */
async function redisPing (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let reply = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString()
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}

export async function startRedis (): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()

  const launch = async (): Promise<void> => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe']
    })
    let stderr = ''
    started.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000) })
    exited = new Promise((resolve) => started.once('exit', () => resolve()))
    const failed = new Promise<never>((_resolve, reject) => {
      started.once('error', reject)
      started.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) ${stderr}`)))
    })
    failed.catch(() => {})
    child = started
    await Promise.race([until('Redis answering PING', 20_000, async () => await redisPing(port)), failed])
    started.unref()
    started.stderr?.destroy()
  }

  const kill = async (): Promise<void> => {
    const current = child
    if (current === undefined || current.pid === undefined || current.exitCode !== null || current.signalCode !== null) return
    current.kill('SIGKILL')
    await Promise.race([exited, sleep(10_000)])
  }
  const forget = onExit(() => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) try { process.kill(child.pid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  })
  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      const current = child
      if (current !== undefined && current.exitCode === null && current.signalCode === null) {
        current.kill('SIGTERM')
        const gone = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])
        if (!gone) await kill()
      }
      rmSync(dir, { recursive: true, force: true })
      forget()
    })()
    await stopping
  }

  try {
    await launch()
  } catch (error) {
    await kill()
    await stop()
    throw error
  }
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid () { return child?.pid ?? 0 },
    kill,
    restart: async () => {
      await kill()
      rmSync(join(dir, 'dump.rdb'), { force: true })
      await launch()
    },
    stop
  }
  return server
}
