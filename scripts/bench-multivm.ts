import { fork, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { io, type Socket } from 'socket.io-client'
import type { Ack, ClientToServerEvents, MessageSendOk, RoomJoinOk, ServerToClientEvents } from '../src/protocol/events.js'
import type { Message } from '../src/protocol/schemas.js'
import { SATURATION_P99_MS } from './bench-scale.js'
import { routeReplies, type Counts, type LedgerReport } from './load/fleet-messages.js'
import type { MeasuredWindow } from './load/harness.js'
import { Histogram, type HistogramData, type LatencySummary } from './load/histogram.js'
import { MemberRecord } from './load/ledger.js'
import {
  BackendMeter,
  backendCoresBetween,
  crossVmMetrics,
  MULTIVM_CONFIGS,
  SERVICE_DEFAULT_WORKERS,
  startDeployment,
  type Backends,
  type CrossVmMetrics,
  type Deployment,
  type MultiVmConfigName
} from './load/multivm-targets.js'
import { deliveryFigures, sumCounts, windowFigures, type DeliveryFigures, type TargetResult, type WindowFigures } from './load/points.js'
import { busySeconds, coresBetween } from './load/proc.js'
import { stopTree, track } from './load/reaper.js'
import { Args, machine, percent, Progress, resultsDir, round, runAsScript, sleep, writeResults } from './load/report.js'
import { startPostgres, startRedis } from './services.js'

/**
 * Several VMs against one: what the PostgreSQL + Redis path costs and how late a message is on
 * the other VM. Configurations run one after another in one run, against one private PostgreSQL
 * and one Redis (scripts/services.ts; stopped at the end, also on failure):
 * - `one-vm`: one cluster (STORE=postgres, REDIS_URL; WORKERS the service's default or --workers);
 * - `two-vms`: two such clusters on two ports sharing PostgreSQL and Redis; every room has
 *   members on both VMs (member k of a room on VM k mod 2) and every member sends;
 * - `sqlite`: one cluster on the default store, the single-VM baseline;
 * - `plain-redis`: two plain Socket.IO processes on @socket.io/redis-adapter, the reference
 *   (scripts/load/plain-redis-server.ts), members spread the same way.
 * A fixed population (400 users in rooms of 20, all sending) climbs per-user rates step by step,
 * like bench-scale. Per step: deliveries/s, ack p50/p99, fan-out p50/p99 to members on the sender's
 * VM and on the other VM (the driver keeps each send's time by clientMsgId; a receiver looks
 * it up), server CPU of every VM's processes and µs per delivery, PostgreSQL and Redis CPU
 * apart, driver CPU. Saturation = the most deliveries/s at ack p99 ≤ 250 ms with under 1 %
 * failures. After the climb every acked message is checked at every member (per sender, by
 * clientMsgId), and for ours the room's seq order.
 *
 * This file is also the driver: the benchmark forks it with CHAT_MULTIVM_DRIVER set, and each
 * such process holds whole rooms of clients, whichever VMs their members are on.
 *
 * All of it runs on one machine: the "VMs" share its cores with each other, PostgreSQL, Redis
 * and the driver, so a second VM adds processes (a second worker, a second store writer), never
 * capacity. The run shows overheads, latencies and CPU per delivery; its numbers move from run
 * to run on a shared box (compare ratios within one run).
 *
 *   node dist/scripts/bench-multivm.js [--configs one-vm,two-vms,sqlite,plain-redis]
 *     [--users 400] [--room-size 20] [--rates 1,2,4,6,8,12,16] [--duration 4] [--warmup 1.5]
 *     [--drivers 2] [--workers N] [--env K=V,…] [--attempts 2] [--smoke] [--out dir]
 *
 * Default: 400 users, four configurations, about a minute each: about 4 minutes on a quiet
 * 2-core box. On a busy one it waits (at most a minute per configuration) for a quiet start
 * and measures a disturbed window once more, so up to about 8 minutes.
 * --smoke: 20 users in rooms of 10, two steps of one second: about 30 seconds.
 */

export const MULTIVM_RATES = [1, 2, 4, 6, 8, 12, 16]
const DRIVER_ENV = 'CHAT_MULTIVM_DRIVER'
const TICK_MS = 5
const SWEEP_MS = 250
const MAX_BEHIND_S = 0.5
/** A send's time is kept this long at most for members that never receive it. */
const IN_FLIGHT_TTL_MS = 30_000
/** Other processes may use this much CPU during a window before it is measured again. */
const MAX_OTHER_CORES = 0.3
const QUIET_WAIT_MS = 60_000
/** clientMsgId = `u<user index>-<n>`, padded with `_` to the protocol's 8 characters. */
const CLIENT_MSG_ID = /^u(\d+)-(\d+)_*$/

// ---------------------------------------------------------------------------------------------
// IPC between the benchmark and its driver processes (plain data)

interface DriverSettings {
  ackTimeoutMs: number
  connectTimeoutMs: number
  textBytes: number
  /** Check that each member receives its room's messages in seq order (ours: a guarantee). */
  roomOrder: boolean
}

interface UserPlan {
  index: number
  username: string
  room: string
  /** Which VM of the deployment the user signs in to and connects to. */
  vm: number
  url: string
}

type DriverRequest =
  | { type: 'grow', users: UserPlan[] }
  | { type: 'rate', ratePerS: number }
  | { type: 'window-start', windowId: number }
  | { type: 'window-end', windowId: number }
  | { type: 'settle', quietMs: number, maxMs: number }

interface GrowReport {
  attempted: number
  joined: number
  failures: Counts
  ms: number
}

interface WindowReport {
  durationMs: number
  sends: number
  acksOk: number
  acksError: Counts
  unanswered: number
  ack: HistogramData
  /** Send → receipt at every member. */
  fanout: HistogramData
  /** … at members on the sender's VM, and on another VM. */
  fanoutSameVm: HistogramData
  fanoutCrossVm: HistogramData
  deliveries: number
  crossVmDeliveries: number
  drops: number
  unstable: number
  connected: number
  pushbackSkips: number
  lagSkips: number
  cpuUserS: number
  cpuSystemS: number
}

interface AccountReport {
  rooms: number
  members: number
  /** Member × acked message pairs owed, and those received (any order). */
  expected: number
  delivered: number
  /** … of which the member is on another VM than the sender. */
  crossVmExpected: number
  crossVmDelivered: number
  missingConnected: number
  missingDisconnected: number
  membersDisconnected: number
  /** A message from one sender received twice, or before an earlier one of the same sender. */
  senderOrderViolations: number
  /** A message whose room seq is not above the previous one's (checked for ours only). */
  roomOrderViolations: number
  /** Messages received that this benchmark did not send. */
  foreign: number
  acked: number
  unanswered: number
  lateAcks: number
}

interface ProgressReport {
  type: 'progress'
  joined: number
  sends: number
  acksOk: number
  acksError: number
  deliveries: number
  ackP99Ms: number
  cpuS: number
}

type DriverReply = { type: 'reply', id: number, result: unknown } | { type: 'error', id: number, message: string } | ProgressReport

// ---------------------------------------------------------------------------------------------
// The driver process

type ChatClient = Socket<ServerToClientEvents, ClientToServerEvents>

/** One client of the run: signed in to its VM, joined to its room, sending when scheduled. */
class VmUser {
  readonly plan: UserPlan
  socket: ChatClient | undefined
  joined = false
  closing = false
  sendCount = 0
  pausedUntilMs = 0
  /** Sends awaiting their ack, by n, oldest first. */
  readonly pending = new Map<number, { atMs: number, windowId: number }>()
  /** The n of every send acked ok (late ones too). */
  readonly acked: number[] = []
  /** What arrived from each sender of the room (by user index), as ranges of n. */
  readonly fromSender = new Map<number, MemberRecord>()
  lastSeq = 0
  roomOrderViolations = 0
  foreign = 0

  constructor (plan: UserPlan) {
    this.plan = plan
  }
}

interface WindowState {
  startedAtMs: number
  cpu: NodeJS.CpuUsage
  sends: number
  acksOk: number
  acksError: Counts
  unanswered: number
  pending: number
  ack: Histogram
  fanout: Histogram
  fanoutSameVm: Histogram
  fanoutCrossVm: Histogram
  deliveries: number
  crossVmDeliveries: number
  drops: number
  unstable: Set<VmUser>
  pushbackSkips: number
  lagSkips: number
}

/** Runs `task` over the items with at most `limit` at a time. */
async function eachLimited<T> (items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++] as T)
  }))
}

/**
 * Holds whole rooms of clients spread over the VMs. One scheduler sends for every member at the
 * set rate, round robin and open loop (like scripts/load/driver.ts); a driver that falls more
 * than half a second behind drops the excess and counts it (lagSkips). Each send's time is kept
 * by clientMsgId until every member of its room has it, so a receipt's fan-out time is exact
 * (one process, one clock) and known to be on the sender's VM or another.
 */
class MultiVmDriver {
  readonly #settings: DriverSettings
  readonly #filler: string
  readonly #users: VmUser[] = []
  readonly #byIndex = new Map<number, VmUser>()
  /** Joined members of each room. */
  readonly #rooms = new Map<string, VmUser[]>()
  readonly #inFlight = new Map<string, { atMs: number, remaining: number }>()
  #senders: VmUser[] = []
  #ratePerS = 0
  #scheduleBaseMs = 0
  #issued = 0
  #cursor = 0
  readonly #totals = { sends: 0, acksOk: 0, acksError: 0, unanswered: 0, lateAcks: 0, deliveries: 0 }
  readonly #windows = new Map<number, WindowState>()
  #current: WindowState | undefined
  #currentId = 0
  #lastSecondAck = new Histogram()

  constructor (settings: DriverSettings) {
    this.#settings = settings
    this.#filler = 'load test message, about the length of a short chat line.'.padEnd(settings.textBytes, ' lorem ipsum').slice(0, Math.max(1, settings.textBytes - 8))
  }

  start (): void {
    setInterval(() => this.#tick(), TICK_MS)
    setInterval(() => this.#sweep(), SWEEP_MS)
    setInterval(() => this.#reportProgress(), 1000)
  }

  async handle (request: DriverRequest): Promise<unknown> {
    switch (request.type) {
      case 'grow': return await this.#grow(request.users)
      case 'rate':
        this.#ratePerS = request.ratePerS
        this.#resetSchedule()
        return null
      case 'window-start':
        this.#startWindow(request.windowId)
        return null
      case 'window-end': return await this.#endWindow(request.windowId)
      case 'settle': return await this.#settle(request.quietMs, request.maxMs)
    }
  }

  #resetSchedule (): void {
    this.#senders = this.#users.filter((user) => user.joined)
    this.#scheduleBaseMs = performance.now()
    this.#issued = 0
  }

  async #signIn (user: VmUser): Promise<string | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const response = await fetch(`${user.plan.url}/api/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: user.plan.username }),
          signal: AbortSignal.timeout(this.#settings.connectTimeoutMs)
        })
        if (response.status === 201) return (await response.json() as { token: string }).token
        await response.arrayBuffer()
      } catch {}
      await sleep(200 * (attempt + 1))
    }
    return undefined
  }

  /** Connects (a refused or reset connect is tried again, at most twice) and joins the room. */
  async #connectAndJoin (user: VmUser, token: string): Promise<string | undefined> {
    const socket: ChatClient = io(user.plan.url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: this.#settings.connectTimeoutMs, autoConnect: false })
    user.socket = socket
    socket.on('message', (message: Message) => this.#onMessage(user, message))
    socket.on('disconnect', () => this.#onDisconnect(user))
    let failure: string | undefined
    for (let attempt = 0; attempt < 3; attempt++) {
      failure = await new Promise<string | undefined>((resolve) => {
        socket.once('connect', () => resolve(undefined))
        socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve(error.data?.code ?? error.message.replace(/\s+/g, '_')))
        socket.connect()
      })
      socket.removeAllListeners('connect').removeAllListeners('connect_error')
      if (failure === undefined || failure === 'E_UNAUTHORIZED') break
      await sleep(250 * (attempt + 1))
    }
    if (failure !== undefined) return failure
    const ack = await new Promise<Ack<RoomJoinOk> | undefined>((resolve) => {
      socket.timeout(this.#settings.ackTimeoutMs * 2).emit('room:join', { room: user.plan.room }, (error: Error | null, answer: Ack<RoomJoinOk>) => resolve(error === null ? answer : undefined))
    })
    if (ack === undefined) return 'E_JOIN_TIMEOUT'
    if (!ack.ok) return `join:${ack.error.code}`
    user.joined = true
    return undefined
  }

  async #grow (plans: UserPlan[]): Promise<GrowReport> {
    const started = performance.now()
    const added = plans.map((plan) => new VmUser(plan))
    const report: GrowReport = { attempted: added.length, joined: 0, failures: {}, ms: 0 }
    const fail = (code: string): void => { report.failures[code] = (report.failures[code] ?? 0) + 1 }
    const tokens = new Map<VmUser, string>()
    await eachLimited(added, 16, async (user) => {
      const token = await this.#signIn(user)
      if (token === undefined) fail('E_SIGN_IN')
      else tokens.set(user, token)
    })
    await eachLimited([...tokens.keys()], 50, async (user) => {
      const failure = await this.#connectAndJoin(user, tokens.get(user) as string)
      if (failure !== undefined) return fail(failure)
      report.joined++
      let members = this.#rooms.get(user.plan.room)
      if (members === undefined) this.#rooms.set(user.plan.room, members = [])
      members.push(user)
    })
    for (const user of added) {
      this.#users.push(user)
      this.#byIndex.set(user.plan.index, user)
    }
    this.#resetSchedule()
    report.ms = Math.round(performance.now() - started)
    return report
  }

  #tick (): void {
    if (this.#ratePerS <= 0 || this.#senders.length === 0) return
    const perSecond = this.#ratePerS * this.#senders.length
    const due = Math.floor(((performance.now() - this.#scheduleBaseMs) / 1000) * perSecond)
    let count = due - this.#issued
    const maxBehind = Math.max(1, Math.ceil(perSecond * MAX_BEHIND_S))
    if (count > maxBehind) {
      if (this.#current !== undefined) this.#current.lagSkips += count - maxBehind
      this.#issued += count - maxBehind
      count = maxBehind
    }
    const now = performance.now()
    for (let i = 0; i < count; i++) {
      this.#issued++
      const user = this.#senders[this.#cursor++ % this.#senders.length] as VmUser
      if (!user.joined) continue
      if (user.pausedUntilMs > now) {
        if (this.#current !== undefined) this.#current.pushbackSkips++
        continue
      }
      this.#send(user)
    }
  }

  #send (user: VmUser): void {
    const socket = user.socket as ChatClient
    const n = ++user.sendCount
    const clientMsgId = `u${user.plan.index}-${n}`.padEnd(8, '_')
    const atMs = performance.now()
    const windowId = this.#currentId
    user.pending.set(n, { atMs, windowId })
    this.#inFlight.set(clientMsgId, { atMs, remaining: this.#rooms.get(user.plan.room)?.length ?? 1 })
    this.#totals.sends++
    if (this.#current !== undefined) {
      this.#current.sends++
      this.#current.pending++
    }
    socket.emit('message:send', { room: user.plan.room, text: `${n} ${this.#filler}`, clientMsgId }, (ack: Ack<MessageSendOk>) => this.#onAck(user, n, clientMsgId, ack))
  }

  #onAck (user: VmUser, n: number, clientMsgId: string, ack: Ack<MessageSendOk>): void {
    if (ack.ok) {
      user.acked.push(n)
      this.#totals.acksOk++
    } else {
      this.#totals.acksError++
      this.#inFlight.delete(clientMsgId)
    }
    const pending = user.pending.get(n)
    if (pending === undefined) {
      this.#totals.lateAcks++
      return
    }
    user.pending.delete(n)
    const rttMs = performance.now() - pending.atMs
    this.#lastSecondAck.recordMs(rttMs)
    if (!ack.ok && ack.error.retryAfterMs !== undefined) user.pausedUntilMs = performance.now() + ack.error.retryAfterMs
    const window = this.#windows.get(pending.windowId)
    if (window === undefined) return
    window.pending--
    if (ack.ok) {
      window.acksOk++
      window.ack.recordMs(rttMs)
    } else {
      window.acksError[ack.error.code] = (window.acksError[ack.error.code] ?? 0) + 1
    }
  }

  #onMessage (user: VmUser, message: Message): void {
    this.#totals.deliveries++
    const window = this.#current
    if (window !== undefined) window.deliveries++
    if (this.#settings.roomOrder) {
      if (message.seq <= user.lastSeq) user.roomOrderViolations++
      else user.lastSeq = message.seq
    }
    const id = CLIENT_MSG_ID.exec(message.clientMsgId)
    const sender = id === null ? undefined : this.#byIndex.get(Number(id[1]))
    if (id === null || sender === undefined) {
      user.foreign++
      return
    }
    let record = user.fromSender.get(sender.plan.index)
    if (record === undefined) user.fromSender.set(sender.plan.index, record = new MemberRecord(0))
    record.live(Number(id[2]))
    const cross = sender.plan.vm !== user.plan.vm
    const sent = this.#inFlight.get(message.clientMsgId)
    if (sent !== undefined) {
      if (window !== undefined) {
        const fanoutMs = performance.now() - sent.atMs
        window.fanout.recordMs(fanoutMs)
        if (cross) window.fanoutCrossVm.recordMs(fanoutMs)
        else window.fanoutSameVm.recordMs(fanoutMs)
      }
      if (--sent.remaining <= 0) this.#inFlight.delete(message.clientMsgId)
    }
    if (cross && window !== undefined) window.crossVmDeliveries++
  }

  #onDisconnect (user: VmUser): void {
    const wasJoined = user.joined
    user.joined = false
    if (user.closing || !wasJoined) return
    if (this.#current !== undefined) this.#current.unstable.add(user)
    if (this.#current !== undefined) this.#current.drops++
  }

  /** Sends older than the ack timeout count as unanswered; send times nobody needs are dropped. */
  #sweep (): void {
    const now = performance.now()
    const oldest = now - this.#settings.ackTimeoutMs
    for (const user of this.#users) {
      if (user.pending.size === 0) continue
      for (const [n, pending] of user.pending) {
        if (pending.atMs > oldest) break
        user.pending.delete(n)
        this.#totals.unanswered++
        const window = this.#windows.get(pending.windowId)
        if (window !== undefined) {
          window.pending--
          window.unanswered++
        }
      }
    }
    for (const [clientMsgId, sent] of this.#inFlight) {
      if (sent.atMs > now - IN_FLIGHT_TTL_MS) break
      this.#inFlight.delete(clientMsgId)
    }
  }

  #reportProgress (): void {
    const cpu = process.cpuUsage()
    const progress: ProgressReport = {
      type: 'progress',
      joined: this.#users.reduce((count, user) => count + (user.joined ? 1 : 0), 0),
      sends: this.#totals.sends,
      acksOk: this.#totals.acksOk,
      acksError: this.#totals.acksError,
      deliveries: this.#totals.deliveries,
      ackP99Ms: this.#lastSecondAck.percentileUs(99) / 1000,
      cpuS: (cpu.user + cpu.system) / 1e6
    }
    process.send?.(progress)
    this.#lastSecondAck = new Histogram()
  }

  #startWindow (windowId: number): void {
    const window: WindowState = {
      startedAtMs: performance.now(),
      cpu: process.cpuUsage(),
      sends: 0,
      acksOk: 0,
      acksError: {},
      unanswered: 0,
      pending: 0,
      ack: new Histogram(),
      fanout: new Histogram(),
      fanoutSameVm: new Histogram(),
      fanoutCrossVm: new Histogram(),
      deliveries: 0,
      crossVmDeliveries: 0,
      drops: 0,
      unstable: new Set(),
      pushbackSkips: 0,
      lagSkips: 0
    }
    this.#windows.set(windowId, window)
    this.#current = window
    this.#currentId = windowId
  }

  async #endWindow (windowId: number): Promise<WindowReport> {
    const window = this.#windows.get(windowId)
    if (window === undefined) throw new Error(`no window ${windowId}`)
    const durationMs = performance.now() - window.startedAtMs
    const cpu = process.cpuUsage(window.cpu)
    if (this.#currentId === windowId) {
      this.#current = undefined
      this.#currentId = 0
    }
    // Every send of the window gets its answer or its timeout before the window reports.
    const deadline = performance.now() + this.#settings.ackTimeoutMs + 2 * SWEEP_MS
    while (window.pending > 0 && performance.now() < deadline) await sleep(20)
    this.#windows.delete(windowId)
    return {
      durationMs,
      sends: window.sends,
      acksOk: window.acksOk,
      acksError: window.acksError,
      unanswered: window.unanswered + window.pending,
      ack: window.ack.toJSON(),
      fanout: window.fanout.toJSON(),
      fanoutSameVm: window.fanoutSameVm.toJSON(),
      fanoutCrossVm: window.fanoutCrossVm.toJSON(),
      deliveries: window.deliveries,
      crossVmDeliveries: window.crossVmDeliveries,
      drops: window.drops,
      unstable: window.unstable.size,
      connected: this.#users.reduce((count, user) => count + (user.joined ? 1 : 0), 0),
      pushbackSkips: window.pushbackSkips,
      lagSkips: window.lagSkips,
      cpuUserS: cpu.user / 1e6,
      cpuSystemS: cpu.system / 1e6
    }
  }

  /** Stops sending, waits (bounded) for every ack and a quiet spell, then checks every member. */
  async #settle (quietMs: number, maxMs: number): Promise<AccountReport> {
    this.#ratePerS = 0
    const deadline = performance.now() + maxMs
    const pending = (): number => this.#users.reduce((count, user) => count + user.pending.size, 0)
    while (pending() > 0 && performance.now() < deadline) await sleep(50)
    let last = this.#totals.deliveries
    let quietSince = performance.now()
    while (performance.now() < deadline) {
      await sleep(50)
      if (this.#totals.deliveries !== last) {
        last = this.#totals.deliveries
        quietSince = performance.now()
      } else if (performance.now() - quietSince >= quietMs) {
        break
      }
    }
    return this.#account()
  }

  #account (): AccountReport {
    const report: AccountReport = {
      rooms: 0,
      members: 0,
      expected: 0,
      delivered: 0,
      crossVmExpected: 0,
      crossVmDelivered: 0,
      missingConnected: 0,
      missingDisconnected: 0,
      membersDisconnected: 0,
      senderOrderViolations: 0,
      roomOrderViolations: 0,
      foreign: 0,
      acked: 0,
      unanswered: this.#totals.unanswered,
      lateAcks: this.#totals.lateAcks
    }
    for (const members of this.#rooms.values()) {
      report.rooms++
      const acked = new Map(members.map((sender) => [sender, [...new Set(sender.acked)].sort((a, b) => a - b)]))
      for (const list of acked.values()) report.acked += list.length
      for (const member of members) {
        report.members++
        if (!member.joined) report.membersDisconnected++
        report.roomOrderViolations += member.roomOrderViolations
        report.foreign += member.foreign
        for (const record of member.fromSender.values()) report.senderOrderViolations += record.orderViolations
        for (const [sender, sorted] of acked) {
          if (sorted.length === 0) continue
          const record = member.fromSender.get(sender.plan.index)
          const { expected, missing } = record === undefined ? { expected: sorted.length, missing: sorted.length } : record.missing(sorted)
          report.expected += expected
          report.delivered += expected - missing
          if (sender.plan.vm !== member.plan.vm) {
            report.crossVmExpected += expected
            report.crossVmDelivered += expected - missing
          }
          if (member.joined) report.missingConnected += missing
          else report.missingDisconnected += missing
        }
      }
    }
    return report
  }
}

function runDriver (settings: DriverSettings): void {
  const driver = new MultiVmDriver(settings)
  driver.start()
  process.on('message', (message: { id: number, request: DriverRequest }) => {
    driver.handle(message.request).then(
      (result) => process.send?.({ type: 'reply', id: message.id, result } satisfies DriverReply),
      (error: unknown) => process.send?.({ type: 'error', id: message.id, message: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies DriverReply)
    )
  })
  // The benchmark's end is ours: exit with it rather than linger.
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
}

// ---------------------------------------------------------------------------------------------
// The benchmark: driver processes, windows, the climb per configuration

interface DriverProcess {
  child: ChildProcess
  progress: ProgressReport | undefined
  waiting: Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void }>
}

/** The driver processes of one configuration, asked in parallel, their answers merged. */
class DriverFleet {
  readonly #drivers: DriverProcess[]
  #requestId = 0
  #windowId = 0

  private constructor (drivers: DriverProcess[]) {
    this.#drivers = drivers
  }

  static start (processes: number, settings: DriverSettings): DriverFleet {
    const drivers = Array.from({ length: processes }, (_, index) => {
      const child = fork(fileURLToPath(import.meta.url), [], {
        env: { ...process.env, [DRIVER_ENV]: JSON.stringify(settings), NODE_OPTIONS: '' },
        execArgv: ['--max-old-space-size=2048'],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc']
      })
      track(child, `multivm driver ${index}`)
      const driver: DriverProcess = { child, progress: undefined, waiting: new Map() }
      routeReplies(driver, `driver ${index}`)
      return driver
    })
    return new DriverFleet(drivers)
  }

  get size (): number {
    return this.#drivers.length
  }

  async #ask<T> (driver: DriverProcess, request: DriverRequest): Promise<T> {
    const id = ++this.#requestId
    return await new Promise<T>((resolve, reject) => {
      driver.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
      driver.child.send({ id, request })
    })
  }

  async #all<T> (request: DriverRequest): Promise<T[]> {
    return await Promise.all(this.#drivers.map(async (driver) => await this.#ask<T>(driver, request)))
  }

  /** Every driver's last progress report, summed (ack p99: the worst). */
  progress (): Omit<ProgressReport, 'type'> {
    const total = { joined: 0, sends: 0, acksOk: 0, acksError: 0, deliveries: 0, ackP99Ms: 0, cpuS: 0 }
    for (const { progress } of this.#drivers) {
      if (progress === undefined) continue
      for (const key of ['joined', 'sends', 'acksOk', 'acksError', 'deliveries', 'cpuS'] as const) total[key] += progress[key]
      total.ackP99Ms = Math.max(total.ackP99Ms, progress.ackP99Ms)
    }
    return total
  }

  async grow (perDriver: UserPlan[][]): Promise<GrowReport> {
    const reports = await Promise.all(this.#drivers.map(async (driver, index) => await this.#ask<GrowReport>(driver, { type: 'grow', users: perDriver[index] ?? [] })))
    const merged: GrowReport = { attempted: 0, joined: 0, failures: {}, ms: 0 }
    for (const report of reports) {
      merged.attempted += report.attempted
      merged.joined += report.joined
      for (const [code, count] of Object.entries(report.failures)) merged.failures[code] = (merged.failures[code] ?? 0) + count
      merged.ms = Math.max(merged.ms, report.ms)
    }
    return merged
  }

  async rate (ratePerS: number): Promise<void> {
    await this.#all({ type: 'rate', ratePerS })
  }

  async window (durationMs: number): Promise<MultiVmWindow> {
    const windowId = ++this.#windowId
    await this.#all({ type: 'window-start', windowId })
    await sleep(durationMs)
    const reports = await this.#all<WindowReport>({ type: 'window-end', windowId })
    const sum = (key: 'sends' | 'acksOk' | 'unanswered' | 'deliveries' | 'crossVmDeliveries' | 'drops' | 'unstable' | 'connected' | 'pushbackSkips' | 'lagSkips'): number => reports.reduce((total, report) => total + report[key], 0)
    const acksError: Counts = {}
    for (const report of reports) for (const [code, count] of Object.entries(report.acksError)) acksError[code] = (acksError[code] ?? 0) + count
    return {
      durationMs: Math.max(...reports.map((report) => report.durationMs)),
      sends: sum('sends'),
      acksOk: sum('acksOk'),
      acksError,
      unanswered: sum('unanswered'),
      ack: Histogram.from(...reports.map((report) => report.ack)),
      fanout: Histogram.from(...reports.map((report) => report.fanout)),
      fanoutSameVm: Histogram.from(...reports.map((report) => report.fanoutSameVm)),
      fanoutCrossVm: Histogram.from(...reports.map((report) => report.fanoutCrossVm)),
      deliveries: sum('deliveries'),
      crossVmDeliveries: sum('crossVmDeliveries'),
      drops: sum('drops'),
      unstable: sum('unstable'),
      connected: sum('connected'),
      pushbackSkips: sum('pushbackSkips'),
      lagSkips: sum('lagSkips'),
      driverCores: reports.reduce((total, report) => total + (report.cpuUserS + report.cpuSystemS) / (report.durationMs / 1000), 0)
    }
  }

  async settle (quietMs: number, maxMs: number): Promise<AccountReport> {
    const reports = await this.#all<AccountReport>({ type: 'settle', quietMs, maxMs })
    const merged = { ...reports[0] as AccountReport }
    for (const report of reports.slice(1)) for (const key of Object.keys(merged) as Array<keyof AccountReport>) merged[key] += report[key]
    return merged
  }

  async close (): Promise<void> {
    await Promise.all(this.#drivers.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      if (child.connected) child.disconnect()
      await Promise.race([exited, sleep(5000)])
      await stopTree(child, 'SIGTERM', 3000)
    }))
  }
}

interface MultiVmWindow {
  durationMs: number
  sends: number
  acksOk: number
  acksError: Counts
  unanswered: number
  ack: Histogram
  fanout: Histogram
  fanoutSameVm: Histogram
  fanoutCrossVm: Histogram
  deliveries: number
  crossVmDeliveries: number
  drops: number
  unstable: number
  connected: number
  pushbackSkips: number
  lagSkips: number
  driverCores: number
}

export interface MultiVmPoint extends WindowFigures {
  ratePerUser: number
  offeredDeliveriesPerS: number
  failurePct: number
  /** Every VM's processes together (not PostgreSQL or Redis), in µs per delivery. */
  serverCpuUsPerDelivery: number
  /** Each VM's cores, in VM order. */
  vmCores: number[]
  postgresCores: number
  redisCores: number
  /** PostgreSQL + Redis CPU, in µs per delivery. */
  backendCpuUsPerDelivery: number
  /** Fan-out to members on the sender's VM, and on the other VM (empty with one VM). */
  fanoutSameVm: LatencySummary
  fanoutCrossVm: LatencySummary
  crossVmDeliveriesPerS: number
  /** This benchmark's own process (sampling /proc, merging reports), in cores. */
  coordinatorCores: number
}

export interface MultiVmDelivery extends DeliveryFigures {
  /** Member × acked message pairs with the member on another VM than the sender. */
  crossVmExpected: number
  crossVmDelivered: number
  /** Duplicates or reorderings among one sender's messages, at any member. */
  senderOrderViolations: number
  /** Ours: a message at or below the room seq the member had (null: not checked, the reference has no room order). */
  roomOrderViolations: number | null
  foreign: number
}

export interface MultiVmConfigResult extends TargetResult<MultiVmPoint> {
  config: MultiVmConfigName
  vms: number
  users: number
  joined: number
  joinFailures: Counts
  /** The most deliveries/s at ack p99 ≤ 250 ms and failures under 1 %. */
  saturationDeliveriesPerS: number
  peakDeliveriesPerS: number
  /** The whole climb, checked at every member after sending stopped. */
  delivery: MultiVmDelivery
  /** Ours on Redis: what its /metrics say about messages from other VMs. */
  serverCrossVm?: CrossVmMetrics
}

interface RunOptions {
  smoke: boolean
  users: number
  roomSize: number
  rates: number[]
  durationMs: number
  warmupMs: number
  drivers: number
  attempts: number
  workers: string | undefined
  env: Record<string, string>
  driverSettings: DriverSettings
}

/** Users in rooms of `roomSize`: member k of a room on VM k mod vms, whole rooms dealt to drivers in turn. */
function planUsers (tag: string, users: number, roomSize: number, urls: readonly string[], drivers: number): UserPlan[][] {
  const perDriver: UserPlan[][] = Array.from({ length: drivers }, () => [])
  for (let index = 0, roomIndex = 0; index < users; roomIndex++) {
    const room = `${tag}-r${roomIndex}`
    for (let member = 0; member < roomSize && index < users; member++, index++) {
      const vm = member % urls.length
      perDriver[roomIndex % drivers]?.push({ index, username: `${tag}u${index}`, room, vm, url: urls[vm] as string })
    }
  }
  return perDriver
}

/** Waits (at most QUIET_WAIT_MS) for the machine to be idle before a configuration starts. */
async function waitForQuiet (progress: Progress): Promise<void> {
  const deadline = performance.now() + QUIET_WAIT_MS
  for (;;) {
    const before = busySeconds()
    await sleep(2000)
    const cores = (busySeconds() - before) / 2
    if (cores <= MAX_OTHER_CORES) return
    if (performance.now() > deadline) {
      progress.log(`the machine is still busy (${round(cores, 2)} cores used by other processes); starting anyway`)
      return
    }
    progress.line(`waiting for a quiet machine: ${round(cores, 2)} cores in use by other processes`)
  }
}

/** One window: the drivers' figures plus every VM's, PostgreSQL's and Redis's CPU over the same time. */
async function measureOnce (fleet: DriverFleet, deployment: Deployment, backends: BackendMeter, durationMs: number): Promise<{ window: MultiVmWindow, vmCores: number[], postgresCores: number, redisCores: number, serverRssBytes: number, machineCores: number, coordinatorCores: number }> {
  const vmsBefore = deployment.sample()
  const backendsBefore = backends.sample()
  const busyBefore = busySeconds()
  const selfBefore = process.cpuUsage()
  const startedAt = performance.now()
  const windowPromise = fleet.window(durationMs)
  // Sample the servers when the window's sending ends, not after the acks of its last sends.
  await sleep(durationMs)
  const vmsAfter = deployment.sample()
  const backendsAfter = backends.sample()
  const busyAfter = busySeconds()
  const self = process.cpuUsage(selfBefore)
  const seconds = (performance.now() - startedAt) / 1000
  const window = await windowPromise
  const backendCores = backendCoresBetween(backendsBefore, backendsAfter)
  return {
    window,
    vmCores: vmsAfter.map((after, index) => coresBetween(vmsBefore[index] as typeof after, after)),
    postgresCores: backendCores.postgres,
    redisCores: backendCores.redis,
    serverRssBytes: vmsAfter.reduce((sum, sample) => sum + sample.rssBytes, 0),
    machineCores: (busyAfter - busyBefore) / seconds,
    coordinatorCores: (self.user + self.system) / 1e6 / seconds
  }
}

type Measured = Awaited<ReturnType<typeof measureOnce>>

const serverCoresOf = (measured: Measured): number => measured.vmCores.reduce((a, b) => a + b, 0)
const othersOf = (measured: Measured): number => Math.max(0, measured.machineCores - serverCoresOf(measured) - measured.postgresCores - measured.redisCores - measured.window.driverCores - measured.coordinatorCores)

/** A window measured again (the load goes on) while other processes disturbed it; the least disturbed is kept. */
async function measure (fleet: DriverFleet, deployment: Deployment, backends: BackendMeter, durationMs: number, attempts: number, progress: Progress, name: string): Promise<Measured & { attempts: number }> {
  let best: (Measured & { attempts: number }) | undefined
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const measured = await measureOnce(fleet, deployment, backends, durationMs)
    if (best === undefined || othersOf(measured) < othersOf(best)) best = { ...measured, attempts: attempt }
    best.attempts = attempt
    if (othersOf(measured) <= MAX_OTHER_CORES) break
    if (attempt < attempts) progress.log(`[multivm · ${name}] other processes used ${round(othersOf(measured), 2)} cores during the window; measuring it again`)
  }
  return best as Measured & { attempts: number }
}

function pointOf (measured: Measured & { attempts: number }, ratePerUser: number, offered: number): MultiVmPoint {
  const { window } = measured
  const serverCores = serverCoresOf(measured)
  const asHarness: MeasuredWindow = { ...window, serverCores, serverRssBytes: measured.serverRssBytes, machineCores: measured.machineCores, attempts: measured.attempts }
  const figures = windowFigures(asHarness)
  const failed = sumCounts(window.acksError) + window.unanswered
  const perDelivery = (cores: number): number => figures.deliveriesPerS === 0 ? 0 : round((cores * 1e6) / figures.deliveriesPerS, 2)
  return {
    ratePerUser,
    offeredDeliveriesPerS: offered,
    ...figures,
    otherCores: round(othersOf(measured), 3),
    failurePct: window.sends === 0 ? 0 : percent(failed, window.sends),
    serverCpuUsPerDelivery: perDelivery(serverCores),
    vmCores: measured.vmCores.map((cores) => round(cores, 3)),
    postgresCores: round(measured.postgresCores, 3),
    redisCores: round(measured.redisCores, 3),
    backendCpuUsPerDelivery: perDelivery(measured.postgresCores + measured.redisCores),
    fanoutSameVm: window.fanoutSameVm.summary(),
    fanoutCrossVm: window.fanoutCrossVm.summary(),
    crossVmDeliveriesPerS: Math.round(window.crossVmDeliveries / (window.durationMs / 1000)),
    coordinatorCores: round(measured.coordinatorCores, 3)
  }
}

function deliveryOf (report: AccountReport, roomOrder: boolean): MultiVmDelivery {
  const ledger: LedgerReport = {
    rooms: report.rooms,
    members: report.members,
    expected: report.expected,
    delivered: report.delivered,
    missingConnected: report.missingConnected,
    missingDisconnected: report.missingDisconnected,
    membersDisconnected: report.membersDisconnected,
    orderViolations: report.senderOrderViolations + (roomOrder ? report.roomOrderViolations : 0),
    acked: report.acked,
    unanswered: report.unanswered,
    lateAcks: report.lateAcks
  }
  return {
    ...deliveryFigures(ledger),
    crossVmExpected: report.crossVmExpected,
    crossVmDelivered: report.crossVmDelivered,
    senderOrderViolations: report.senderOrderViolations,
    roomOrderViolations: roomOrder ? report.roomOrderViolations : null,
    foreign: report.foreign
  }
}

/** The latency a table shows for fan-out: to the other VM where there are two, else to all. */
const fanoutShown = (result: MultiVmConfigResult, point: MultiVmPoint): LatencySummary => result.vms > 1 ? point.fanoutCrossVm : point.fanout

async function runConfig (config: MultiVmConfigName, backends: Backends, meter: BackendMeter, options: RunOptions): Promise<MultiVmConfigResult> {
  const progress = new Progress()
  if (!options.smoke) await waitForQuiet(progress)
  const deployment = await startDeployment(config, backends, { ...(options.workers === undefined ? {} : { workers: options.workers }), env: options.env })
  const roomOrder = config !== 'plain-redis'
  let fleet: DriverFleet | undefined
  let progressTimer: NodeJS.Timeout | undefined
  let status = `${config}: connecting ${options.users}`
  try {
    progress.log(`[multivm · ${config}] ${deployment.vms.length} VM${deployment.vms.length > 1 ? 's' : ''} at ${deployment.vms.map((vm) => `${vm.url} (pid ${vm.pid})`).join(', ')}; ${options.drivers} driver process${options.drivers === 1 ? '' : 'es'}`)
    const driverFleet = fleet = DriverFleet.start(options.drivers, { ...options.driverSettings, roomOrder })
    let previous: { at: number, sends: number, deliveries: number, cpuS: number, vm: number } | undefined
    progressTimer = setInterval(() => {
      const now = driverFleet.progress()
      const vm = deployment.sample().reduce((sum, sample) => sum + sample.cpuS, 0)
      const at = performance.now()
      if (previous !== undefined) {
        const seconds = (at - previous.at) / 1000
        progress.line(`[multivm · ${status}] ${now.joined} joined | sent ${Math.round((now.sends - previous.sends) / seconds)}/s | recv ${Math.round((now.deliveries - previous.deliveries) / seconds)}/s | ack p99 ${round(now.ackP99Ms, 1)} ms | VMs ${round((vm - previous.vm) / seconds, 2)} cores, driver ${round((now.cpuS - previous.cpuS) / seconds, 2)}`)
      }
      previous = { at, sends: now.sends, deliveries: now.deliveries, cpuS: now.cpuS, vm }
    }, 1000)
    const tag = `mv${Date.now().toString(36)}${MULTIVM_CONFIGS.indexOf(config)}`
    const grow = await driverFleet.grow(planUsers(tag, options.users, options.roomSize, deployment.vms.map((vm) => vm.url), driverFleet.size))
    progress.log(`[multivm · ${config}] ${grow.joined} of ${grow.attempted} users joined in ${round(grow.ms / 1000, 1)} s${sumCounts(grow.failures) > 0 ? ` (failures: ${JSON.stringify(grow.failures)})` : ''}`)
    const points: MultiVmPoint[] = []
    let stoppedEarly: string | undefined
    for (const ratePerUser of options.rates) {
      status = `${config} ${ratePerUser}/s each`
      await driverFleet.rate(ratePerUser)
      await sleep(options.warmupMs)
      const offered = Math.round(grow.joined * ratePerUser * Math.min(options.roomSize, grow.joined))
      const point = pointOf(await measure(driverFleet, deployment, meter, options.durationMs, options.attempts, progress, config), ratePerUser, offered)
      points.push(point)
      const cross = point.fanoutCrossVm.count > 0 ? `, cross-VM fan-out p50 ${point.fanoutCrossVm.p50Ms} p99 ${point.fanoutCrossVm.p99Ms} ms` : ''
      progress.log(`[multivm · ${config}] ${ratePerUser}/s each: ${point.deliveriesPerS} deliveries/s of ${offered} offered, ack p50 ${point.ack.p50Ms} p99 ${point.ack.p99Ms} ms, fan-out p99 ${point.fanout.p99Ms} ms${cross}, failures ${point.failurePct} %, VMs ${point.serverCores} cores (${point.serverCpuUsPerDelivery} µs/delivery), PostgreSQL ${point.postgresCores} + Redis ${point.redisCores} cores, driver ${point.driverCores}, other ${point.otherCores}`)
      const exited = deployment.exitedEarly()
      if (exited !== undefined) {
        stoppedEarly = exited
        break
      }
      if (point.ack.p99Ms > 2000 || point.failurePct > 10 || point.deliveriesPerS < 0.7 * offered) {
        stoppedEarly = `saturated at ${ratePerUser}/s each (ack p99 ${point.ack.p99Ms} ms, failures ${point.failurePct} %, ${point.deliveriesPerS} of ${offered} deliveries/s)`
        break
      }
    }
    status = `${config}: checking every delivery`
    const delivery = deliveryOf(await driverFleet.settle(options.smoke ? 500 : 1000, 30_000), roomOrder)
    progress.log(`[multivm · ${config}] delivered ${delivery.deliveryPct} % (${delivery.delivered} of ${delivery.expected}; to the other VM ${delivery.crossVmDelivered} of ${delivery.crossVmExpected}), acked but missing ${delivery.silentlyLost - delivery.unanswered}, unanswered in 5 s ${delivery.unanswered} (answered late ${delivery.lateAcks}), order violations ${delivery.orderViolations}`)
    const serverCrossVm = await crossVmMetrics(deployment).catch(() => undefined)
    const sustained = points.filter((point) => point.ack.p99Ms <= SATURATION_P99_MS && point.failurePct < 1)
    return {
      kind: config === 'plain-redis' ? 'plain-redis' : 'ours',
      label: deployment.label,
      settings: deployment.settings,
      ...(deployment.source === undefined ? {} : { source: deployment.source }),
      driverProcesses: options.drivers,
      serverWarnings: deployment.warnings(),
      config,
      vms: deployment.vms.length,
      users: options.users,
      joined: grow.joined,
      joinFailures: grow.failures,
      points,
      saturationDeliveriesPerS: Math.max(0, ...sustained.map((point) => point.deliveriesPerS)),
      peakDeliveriesPerS: Math.max(0, ...points.map((point) => point.deliveriesPerS)),
      delivery,
      ...(serverCrossVm === undefined ? {} : { serverCrossVm }),
      ...(stoppedEarly === undefined ? {} : { stoppedEarly })
    }
  } finally {
    clearInterval(progressTimer)
    await fleet?.close().catch(() => {})
    await deployment.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// Tables and chart

function table (header: string[], rows: Array<Array<string | number>>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

/** The point a summary row describes: the best within the bound, else the lowest step. */
function referencePoint (result: MultiVmConfigResult): MultiVmPoint | undefined {
  const sustained = result.points.filter((point) => point.ack.p99Ms <= SATURATION_P99_MS && point.failurePct < 1)
  return sustained.sort((a, b) => b.deliveriesPerS - a.deliveriesPerS)[0] ?? result.points[0]
}

export function summaryTable (results: readonly MultiVmConfigResult[]): string {
  return table([
    'config', `deliveries/s at ack p99 ≤ ${SATURATION_P99_MS} ms`, 'peak deliveries/s', 'ack p50 / p99 ms (there)', 'fan-out p50 / p99 ms (there; to the other VM where 2)',
    'server µs/delivery (there)', 'PostgreSQL + Redis cores (µs/delivery) there', 'cores there: VMs / driver / other',
    'whole climb: delivered (to the other VM) / acked but missing / unanswered in 5 s (answered late) / order violations'
  ], results.map((result) => {
    const point = referencePoint(result)
    const within = result.saturationDeliveriesPerS > 0
    const fanout = point === undefined ? undefined : fanoutShown(result, point)
    return [
      result.config,
      within ? result.saturationDeliveriesPerS : 'none within the bound',
      result.peakDeliveriesPerS,
      point === undefined ? '–' : `${point.ack.p50Ms} / ${point.ack.p99Ms}${within ? '' : ' (lowest step)'}`,
      fanout === undefined ? '–' : `${fanout.p50Ms} / ${fanout.p99Ms}`,
      point === undefined ? '–' : point.serverCpuUsPerDelivery,
      point === undefined ? '–' : `${point.postgresCores} + ${point.redisCores} (${point.backendCpuUsPerDelivery})`,
      point === undefined ? '–' : `${point.serverCores} / ${point.driverCores} / ${point.otherCores}`,
      `${result.delivery.deliveryPct} % (${result.delivery.crossVmDelivered} of ${result.delivery.crossVmExpected}) / ${result.delivery.silentlyLost - result.delivery.unanswered} / ${result.delivery.unanswered} (${result.delivery.lateAcks}) / ${result.delivery.orderViolations}`
    ]
  }))
}

export function stepsTable (results: readonly MultiVmConfigResult[]): string {
  return table([
    'config', 'rate/user', 'offered/s', 'deliveries/s', 'ack p50 / p99 ms', 'fan-out same VM p50 / p99 ms', 'fan-out other VM p50 / p99 ms',
    'VM cores (each)', 'server µs/delivery', 'PostgreSQL / Redis cores', 'PG+Redis µs/delivery', 'driver cores', 'other cores', 'failures %'
  ], results.flatMap((result) => result.points.map((point) => [
    result.config, point.ratePerUser, point.offeredDeliveriesPerS, point.deliveriesPerS, `${point.ack.p50Ms} / ${point.ack.p99Ms}`,
    `${point.fanoutSameVm.p50Ms} / ${point.fanoutSameVm.p99Ms}`, point.fanoutCrossVm.count === 0 ? '–' : `${point.fanoutCrossVm.p50Ms} / ${point.fanoutCrossVm.p99Ms}`,
    `${point.serverCores} (${point.vmCores.join(' + ')})`, point.serverCpuUsPerDelivery, `${point.postgresCores} / ${point.redisCores}`, point.backendCpuUsPerDelivery,
    point.driverCores, point.otherCores, point.failurePct
  ])))
}

/** Server CPU per delivery at each rate every configuration reached, with the ratios that answer the questions. */
export function ratiosTable (results: readonly MultiVmConfigResult[]): string {
  const byConfig = new Map(results.map((result) => [result.config, result]))
  const rates = [...new Set(results.flatMap((result) => result.points.map((point) => point.ratePerUser)))].sort((a, b) => a - b)
  const at = (config: MultiVmConfigName, rate: number): MultiVmPoint | undefined => byConfig.get(config)?.points.find((point) => point.ratePerUser === rate)
  const ratios: Array<[string, MultiVmConfigName, MultiVmConfigName]> = [
    ['1 VM PG+Redis ÷ SQLite', 'one-vm', 'sqlite'],
    ['2 VMs ÷ 1 VM', 'two-vms', 'one-vm'],
    ['2 VMs ÷ plain-redis', 'two-vms', 'plain-redis'],
    ['1 VM PG+Redis ÷ plain-redis', 'one-vm', 'plain-redis']
  ]
  const shown = ratios.filter(([, a, b]) => byConfig.has(a) && byConfig.has(b))
  const configs = results.map((result) => result.config)
  return table(['rate/user', ...configs.map((config) => `${config} µs/delivery (+PG+Redis)`), ...shown.map(([name]) => `${name} (server; incl. PG+Redis)`)], rates.map((rate) => [
    rate,
    ...configs.map((config) => {
      const point = at(config, rate)
      return point === undefined ? '–' : `${point.serverCpuUsPerDelivery} (+${point.backendCpuUsPerDelivery})`
    }),
    ...shown.map(([, a, b]) => {
      const pa = at(a, rate)
      const pb = at(b, rate)
      if (pa === undefined || pb === undefined || pb.serverCpuUsPerDelivery === 0) return '–'
      const total = (point: MultiVmPoint): number => point.serverCpuUsPerDelivery + point.backendCpuUsPerDelivery
      return `${round(pa.serverCpuUsPerDelivery / pb.serverCpuUsPerDelivery, 2)}×; ${round(total(pa) / total(pb), 2)}×`
    })
  ]))
}

const CONFIG_COLORS: Record<MultiVmConfigName, string> = {
  'one-vm': '#31a354',
  'two-vms': '#00441b',
  sqlite: '#74c476',
  'plain-redis': '#d95f02'
}

async function renderMultiVmChart (results: readonly MultiVmConfigResult[], subtitle: string[]): Promise<string> {
  const { renderChart } = await import('./load/charts.js')
  const series = results.map((result) => result.label)
  const colors = Object.fromEntries(results.map((result) => [result.label, CONFIG_COLORS[result.config]]))
  const rows = (value: (result: MultiVmConfigResult, point: MultiVmPoint) => number): Array<{ series: string, x: number, y: number }> =>
    results.flatMap((result) => result.points.map((point) => ({ series: result.label, x: point.offeredDeliveriesPerS, y: value(result, point) })))
  return await renderChart('Several VMs on one box: ours on PostgreSQL + Redis, SQLite, plain Socket.IO on the Redis adapter', subtitle, [
    { title: 'Deliveries per second achieved', xTitle: 'offered deliveries/s', yTitle: 'deliveries/s', rows: rows((_, p) => p.deliveriesPerS) },
    { title: 'Ack round trip p99 (ms)', xTitle: 'offered deliveries/s', yTitle: 'ms (log)', yLog: true, rows: rows((_, p) => p.ack.p99Ms), rule: { y: SATURATION_P99_MS, label: `${SATURATION_P99_MS} ms` } },
    { title: 'Fan-out p99 (ms): to the other VM where 2', xTitle: 'offered deliveries/s', yTitle: 'ms (log)', yLog: true, rows: rows((r, p) => fanoutShown(r, p).p99Ms) },
    { title: 'Server CPU per delivery (µs, all VMs)', xTitle: 'offered deliveries/s', yTitle: 'µs', rows: rows((_, p) => p.serverCpuUsPerDelivery) },
    { title: 'PostgreSQL + Redis CPU per delivery (µs)', xTitle: 'offered deliveries/s', yTitle: 'µs', rows: rows((_, p) => p.backendCpuUsPerDelivery) }
  ], series, colors)
}

// ---------------------------------------------------------------------------------------------

export async function benchMultiVm (args: Args): Promise<string> {
  const smoke = args.flag('smoke')
  const configs = args.list('configs', [...MULTIVM_CONFIGS]).filter((name): name is MultiVmConfigName => (MULTIVM_CONFIGS as readonly string[]).includes(name))
  const options: RunOptions = {
    smoke,
    users: args.number('users', smoke ? 20 : 400),
    roomSize: args.number('room-size', smoke ? 10 : 20),
    rates: args.numbers('rates', smoke ? [1, 2] : MULTIVM_RATES),
    durationMs: args.number('duration', smoke ? 1 : 4) * 1000,
    warmupMs: args.number('warmup', smoke ? 0.3 : 1.5) * 1000,
    drivers: args.number('drivers', smoke ? 1 : 2),
    attempts: args.number('attempts', smoke ? 1 : 2),
    workers: args.optional('workers'),
    env: args.env(),
    driverSettings: { ackTimeoutMs: 5000, connectTimeoutMs: 10_000, textBytes: args.number('text-bytes', 64), roomOrder: true }
  }
  if (options.roomSize < 2) throw new Error('--room-size must be at least 2 (every room has members on both VMs)')
  const out = resultsDir(args)
  const started = Date.now()
  const atStart = machine()
  const noise = `NOTE: one ${atStart.cpus}-core box (${atStart.cpuModel}) runs every "VM", PostgreSQL, Redis and the driver, shared with other work (load average ${atStart.loadAverage1m} at the start${atStart.cpuPressureSome60s === null ? '' : `, CPU pressure ${atStart.cpuPressureSome60s} %`}): the VMs share the same cores, so a second VM adds processes, not capacity, and absolute numbers are noisy; compare ratios within one run, and read "other cores" per window.`
  process.stderr.write(`${noise}\n`)
  const results: MultiVmConfigResult[] = []
  const pg = await startPostgres()
  let redis: Backends['redis'] | undefined
  try {
    redis = await startRedis()
    const backends: Backends = { pg, redis }
    const meter = new BackendMeter(backends)
    process.stderr.write(`[multivm] PostgreSQL at ${pg.url}, Redis at ${redis.url}; configurations: ${configs.join(', ')}\n`)
    for (const config of configs) results.push(await runConfig(config, backends, meter, options))
  } finally {
    await redis?.stop().catch(() => {})
    await pg.stop().catch(() => {})
  }

  const notes = [
    noise,
    `${options.users} users in rooms of ${options.roomSize}, every member sending; the per-user rate climbs ${options.rates.join(', ')} messages a second (offered deliveries/s = joined users × rate × room size); with two VMs member k of each room is on VM k mod 2`,
    `each step: ${options.warmupMs / 1000} s at the new rate, then a ${options.durationMs / 1000} s window (measured again, up to ${options.attempts} times, while other processes use more than ${MAX_OTHER_CORES} cores); a configuration stops climbing once ack p99 passes 2 s, failures pass 10 % or fewer than 70 % of the offered deliveries arrive`,
    `saturation = the most deliveries/s at ack p99 ≤ ${SATURATION_P99_MS} ms with under 1 % failures`,
    'fan-out: send → receipt, timed in the driver process that holds the whole room (the sender keeps its send time by clientMsgId); "other VM" = the receiving member is connected to another VM than the sender',
    'server CPU = every process of every VM (primaries, workers, their threads; the plain-redis processes), read from /proc; PostgreSQL (postmaster and backends) and Redis are reported apart; other = machine − VMs − PostgreSQL − Redis − drivers − this process',
    `one PostgreSQL and one Redis serve the whole run (configurations in the order ${configs.join(', ')}; each in its own rooms); PostgreSQL runs with fsync on, as the service expects`,
    `ours: WORKERS=${options.workers ?? `${SERVICE_DEFAULT_WORKERS} (the service's default here, cores − 1)`} per VM; ${Object.entries(results.find((result) => result.config === 'sqlite')?.settings ?? results.find((result) => result.kind === 'ours')?.settings ?? {}).filter(([key]) => key !== 'WORKERS' && key !== 'STORE').map(([key, value]) => `${key}=${value}`).join(', ')}; one-vm and two-vms add STORE=postgres, DATABASE_URL and REDIS_URL`,
    'delivery: after the climb every acked message is checked at every member that joined (per sender, by clientMsgId, so the reference is checked the same way); order: a sender\'s messages must not repeat or overtake each other anywhere; for ours also the room seq order; plain-redis has no room-wide order and is not checked for one',
    'members that drop are not reconnected: what they miss is reported apart (missingAtDisconnected), never as silently lost'
  ]
  const path = writeResults('multivm', { smoke, wallSeconds: Math.round((Date.now() - started) / 1000), notes, results }, out)
  const svg = await renderMultiVmChart(results, [
    `${new Date().toISOString().slice(0, 10)} · ${atStart.cpus} cores (${atStart.cpuModel}), every VM, PostgreSQL, Redis and the driver on the same box · shared, noisy machine${smoke ? ' · SMOKE RUN' : ''}`,
    `${options.users} users in rooms of ${options.roomSize}, all sending, per-user rate ${options.rates.join(', ')}/s`
  ])
  writeFileSync(join(out, 'multivm.svg'), svg)

  process.stdout.write([
    '',
    noise,
    '',
    '## Summary',
    summaryTable(results),
    '',
    '## Server CPU per delivery at equal load (ratios)',
    ratiosTable(results),
    '',
    '## Every step',
    stepsTable(results),
    '',
    ...results.map((result) => `${result.config}: ${result.stoppedEarly ?? 'climbed every step'}${result.serverCrossVm === undefined ? '' : `; its /metrics: ${result.serverCrossVm.receivedTotal} messages received from another VM (counted per worker), mean lag ${result.serverCrossVm.lagMeanMs} ms`}`),
    ''
  ].join('\n'))
  return path
}

const driverSettings = process.env[DRIVER_ENV]
if (driverSettings !== undefined) runDriver(JSON.parse(driverSettings) as DriverSettings)
else await runAsScript(import.meta.url, benchMultiVm)
