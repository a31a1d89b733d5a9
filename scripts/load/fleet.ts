import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Histogram, type HistogramData } from './histogram.js'
import {
  routeReplies,
  type Counts,
  type DriverRequest,
  type DriverSettings,
  type GrowReport,
  type LedgerReport,
  type ProgressReport,
  type ReconnectReport,
  type SnapshotReport,
  type UserPlan,
  type WindowReport
} from './fleet-messages.js'
import { track, stopTree } from './reaper.js'

/**
 * The coordinator's side of the load driver: a fleet of driver processes (driver.ts), each with
 * its own loopback source addresses, holding whole rooms of virtual users. The fleet plans
 * users and rooms, fans each request out to every driver and merges the answers.
 */

const DRIVER = fileURLToPath(new URL('./driver.js', import.meta.url))

/** One driver process holds at most this many connections (the open-files limit is 20000). */
export const USERS_PER_DRIVER = 15_000

export interface FleetOptions {
  url: string
  processes: number
  /** Run tag: usernames and rooms are unique per run, so one server can serve many levels. */
  tag: string
  ackTimeoutMs?: number
  connectTimeoutMs?: number
  textBytes?: number
  autoReconnect?: boolean
  /** The first loopback source address is 127.0.0.<firstAddress>. */
  firstAddress?: number
  addressesPerDriver?: number
  /** Write a V8 CPU profile of every driver process into this directory. */
  cpuProfileDir?: string
  onProgress?: (progress: FleetProgress) => void
}

export interface FleetProgress {
  connected: number
  sends: number
  acksOk: number
  acksError: number
  unanswered: number
  deliveries: number
  drops: number
  ackP99Ms: number
  driverCpuS: number
}

export interface GrowPlan {
  roomSize: number
  /** Senders per room; every member sends when undefined. */
  sendersPerRoom?: number
}

export interface WindowResult {
  durationMs: number
  sends: number
  acksOk: number
  acksError: Counts
  unanswered: number
  ack: Histogram
  fanout: Histogram
  deliveries: number
  drops: number
  unstable: number
  connected: number
  pushbackSkips: number
  lagSkips: number
  /** Driver CPU over the window, in cores (1 = one core busy). */
  driverCores: number
}

export interface ReconnectResult extends Omit<ReconnectReport, 'time'> {
  time: Histogram
}

interface Driver {
  child: ChildProcess
  progress: ProgressReport | undefined
  waiting: Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void }>
  users: number
}

function addCounts (into: Counts, from: Counts): Counts {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value
  return into
}

export class Fleet {
  readonly #drivers: Driver[]
  readonly #options: FleetOptions
  /** Users connected now (planned so far since the last reset). */
  #users = 0
  /** Users and rooms ever planned: names stay unique across resets, so one server serves many levels. */
  #usersPlanned = 0
  #rooms = 0
  #requestId = 0
  #windowId = 0
  #progressTimer: NodeJS.Timeout | undefined

  private constructor (drivers: Driver[], options: FleetOptions) {
    this.#drivers = drivers
    this.#options = options
  }

  /** Forks the driver processes. */
  static async start (options: FleetOptions): Promise<Fleet> {
    const drivers: Driver[] = []
    const perDriver = options.addressesPerDriver ?? 2
    const first = options.firstAddress ?? 2
    for (let index = 0; index < options.processes; index++) {
      const settings: DriverSettings = {
        url: options.url,
        addresses: Array.from({ length: perDriver }, (_, k) => `127.0.0.${first + index * perDriver + k}`),
        driverIndex: index,
        ackTimeoutMs: options.ackTimeoutMs ?? 5000,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
        connectConcurrency: 100,
        signInConcurrency: 16,
        textBytes: options.textBytes ?? 64,
        autoReconnect: options.autoReconnect ?? true
      }
      const child = fork(DRIVER, [], {
        env: { ...process.env, CHAT_DRIVER_SETTINGS: JSON.stringify(settings), NODE_OPTIONS: '' },
        execArgv: ['--max-old-space-size=4096', ...(options.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`])],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc']
      })
      track(child, `driver ${index}`)
      const driver: Driver = { child, progress: undefined, waiting: new Map(), users: 0 }
      routeReplies(driver, `driver ${index}`)
      drivers.push(driver)
    }
    const fleet = new Fleet(drivers, options)
    if (options.onProgress !== undefined) {
      const onProgress = options.onProgress
      fleet.#progressTimer = setInterval(() => onProgress(fleet.progress()), 1000)
    }
    return fleet
  }

  /** Driver processes needed for a number of users (the open-files limit, and CPU). */
  static processesFor (users: number, minimum = 1): number {
    return Math.max(minimum, Math.ceil(users / USERS_PER_DRIVER))
  }

  get users (): number {
    return this.#users
  }

  get processes (): number {
    return this.#drivers.length
  }

  async #ask<T> (driver: Driver, request: DriverRequest): Promise<T> {
    const id = ++this.#requestId
    return await new Promise<T>((resolve, reject) => {
      driver.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
      driver.child.send({ id, request })
    })
  }

  async #all<T> (request: DriverRequest): Promise<T[]> {
    return await Promise.all(this.#drivers.map(async (driver) => await this.#ask<T>(driver, request)))
  }

  /** Sums of every driver's last progress report. */
  progress (): FleetProgress {
    const total: FleetProgress = { connected: 0, sends: 0, acksOk: 0, acksError: 0, unanswered: 0, deliveries: 0, drops: 0, ackP99Ms: 0, driverCpuS: 0 }
    for (const { progress } of this.#drivers) {
      if (progress === undefined) continue
      total.connected += progress.connected
      total.sends += progress.sends
      total.acksOk += progress.acksOk
      total.acksError += progress.acksError
      total.unanswered += progress.unanswered
      total.deliveries += progress.deliveries
      total.drops += progress.drops
      total.ackP99Ms = Math.max(total.ackP99Ms, progress.ackP99Ms)
      total.driverCpuS += progress.cpuS
    }
    return total
  }

  /**
   * Adds users until there are `total`, in new rooms of `roomSize` (whole rooms per driver,
   * rooms dealt to drivers round robin), each signed in, connected and joined.
   */
  async grow (total: number, plan: GrowPlan): Promise<GrowReport> {
    const perDriver: UserPlan[][] = this.#drivers.map(() => [])
    while (this.#users < total) {
      const roomIndex = this.#rooms++
      const room = `${this.#options.tag}-r${roomIndex}`
      const driver = roomIndex % this.#drivers.length
      const size = Math.min(plan.roomSize, total - this.#users)
      for (let member = 0; member < size; member++) {
        this.#users++
        const index = this.#usersPlanned++
        perDriver[driver]?.push({ index, username: `${this.#options.tag}u${index}`, room, sender: plan.sendersPerRoom === undefined || member < plan.sendersPerRoom })
      }
    }
    const reports = await Promise.all(this.#drivers.map(async (driver, index) => {
      const users = perDriver[index] ?? []
      driver.users += users.length
      return users.length === 0 ? undefined : await this.#ask<GrowReport>(driver, { type: 'grow', users })
    }))
    const merged: GrowReport = { attempted: 0, connected: 0, connectFailures: {}, connectRetries: {}, joinFailures: {}, signInFailures: 0, ms: 0 }
    for (const report of reports) {
      if (report === undefined) continue
      merged.attempted += report.attempted
      merged.connected += report.connected
      addCounts(merged.connectFailures, report.connectFailures)
      addCounts(merged.connectRetries, report.connectRetries)
      addCounts(merged.joinFailures, report.joinFailures)
      merged.signInFailures += report.signInFailures
      merged.ms = Math.max(merged.ms, report.ms)
    }
    return merged
  }

  /** Sets every sender's rate (messages per second each); 0 stops sending. */
  async rate (ratePerS: number): Promise<void> {
    await this.#all({ type: 'rate', ratePerS })
  }

  /** Measures for `durationMs`; resolves once every send of the window is answered or timed out. */
  async window (durationMs: number): Promise<WindowResult> {
    const windowId = ++this.#windowId
    await this.#all({ type: 'window-start', windowId })
    await new Promise((resolve) => setTimeout(resolve, durationMs))
    const reports = await this.#all<WindowReport>({ type: 'window-end', windowId })
    const result: WindowResult = {
      durationMs: 0,
      sends: 0,
      acksOk: 0,
      acksError: {},
      unanswered: 0,
      ack: Histogram.from(...reports.map((report) => report.ack)),
      fanout: Histogram.from(...reports.map((report) => report.fanout)),
      deliveries: 0,
      drops: 0,
      unstable: 0,
      connected: 0,
      pushbackSkips: 0,
      lagSkips: 0,
      driverCores: 0
    }
    for (const report of reports) {
      result.durationMs = Math.max(result.durationMs, report.durationMs)
      result.sends += report.sends
      result.acksOk += report.acksOk
      addCounts(result.acksError, report.acksError)
      result.unanswered += report.unanswered
      result.deliveries += report.deliveries
      result.drops += report.drops
      result.unstable += report.unstable
      result.connected += report.connected
      result.pushbackSkips += report.pushbackSkips
      result.lagSkips += report.lagSkips
      result.driverCores += (report.cpuUserS + report.cpuSystemS) / (report.durationMs / 1000)
    }
    return result
  }

  /** Stops sending and accounts every delivery once things are quiet. */
  async settle (quietMs = 1000, maxMs = 20_000): Promise<LedgerReport> {
    const reports = await this.#all<LedgerReport>({ type: 'settle', quietMs, maxMs })
    const merged = { ...reports[0] as LedgerReport }
    for (const report of reports.slice(1)) {
      for (const key of Object.keys(merged) as Array<keyof LedgerReport>) merged[key] += report[key]
    }
    return merged
  }

  /** Drops `count` connected users at the same moment (spread over the drivers) and times their rejoin. */
  async reconnect (count: number, deadlineMs: number): Promise<ReconnectResult> {
    const shares = this.#drivers.map((driver) => driver.users)
    const totalUsers = shares.reduce((a, b) => a + b, 0)
    let left = count
    const asks = this.#drivers.map((driver, index) => {
      const share = index === this.#drivers.length - 1 ? left : Math.min(left, Math.round(count * ((shares[index] ?? 0) / totalUsers)))
      left -= share
      return share === 0 ? undefined : this.#ask<ReconnectReport>(driver, { type: 'reconnect', count: share, deadlineMs })
    })
    const reports = (await Promise.all(asks)).filter((report): report is ReconnectReport => report !== undefined)
    const result: ReconnectResult = { attempted: 0, succeeded: 0, failures: {}, time: Histogram.from(...reports.map((report) => report.time as HistogramData)), retries: {}, recovered: 0 }
    for (const report of reports) {
      result.attempted += report.attempted
      result.succeeded += report.succeeded
      addCounts(result.failures, report.failures)
      addCounts(result.retries, report.retries)
      result.recovered += report.recovered
    }
    return result
  }

  async snapshot (): Promise<SnapshotReport> {
    const reports = await this.#all<SnapshotReport>({ type: 'snapshot' })
    return reports.reduce((a, b) => ({ connected: a.connected + b.connected, users: a.users + b.users, rssBytes: a.rssBytes + b.rssBytes, heapUsedBytes: a.heapUsedBytes + b.heapUsedBytes }))
  }

  /** Disconnects every user and forgets every room (a fresh start on the same drivers). */
  async reset (): Promise<void> {
    await this.#all({ type: 'reset' })
    for (const driver of this.#drivers) driver.users = 0
    this.#users = 0
  }

  /** PIDs of the driver processes (for CPU sampling from outside). */
  get pids (): number[] {
    return this.#drivers.flatMap((driver) => driver.child.pid === undefined ? [] : [driver.child.pid])
  }

  async close (): Promise<void> {
    clearInterval(this.#progressTimer)
    await Promise.all(this.#drivers.map(async (driver) => {
      const { child } = driver
      if (child.exitCode !== null || child.signalCode !== null) return
      // A driver exits by itself once its IPC channel closes (writing its CPU profile, if any).
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      if (child.connected) child.disconnect()
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      await stopTree(child, 'SIGTERM', 3000)
    }))
  }
}
