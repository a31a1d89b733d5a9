import { Histogram } from './histogram.js'
import type {
  Counts,
  DriverReply,
  DriverRequest,
  DriverSettings,
  GrowReport,
  LedgerReport,
  ReconnectReport,
  SnapshotReport,
  UserPlan,
  WindowReport
} from './fleet-messages.js'
import { account, RoomLedger } from './ledger.js'
import { VirtualUser, type UserSink } from './virtual-user.js'

/**
 * A driver process: holds many virtual users and does what the coordinator (fleet.ts) asks over
 * IPC. One scheduler sends for every user at the configured rate, round robin, so each user
 * sends exactly `rate` times a second, evenly phased (open loop: sends do not wait for acks).
 * A driver that falls behind by more than half a second drops the excess and counts it
 * (lagSkips): the driver's own saturation is reported, never hidden.
 */

const TICK_MS = 5
const SWEEP_MS = 250
const MAX_BEHIND_S = 0.5

interface WindowState {
  startedAtMs: number
  endedAtMs: number
  cpu: NodeJS.CpuUsage
  sends: number
  acksOk: number
  acksError: Counts
  unanswered: number
  pending: number
  ack: Histogram
  fanout: Histogram
  deliveries: number
  drops: number
  unstable: Set<VirtualUser>
  pushbackSkips: number
  lagSkips: number
}

const settings = JSON.parse(process.env.CHAT_DRIVER_SETTINGS ?? '{}') as DriverSettings
const send = (reply: DriverReply): void => { process.send?.(reply) }
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

const users: VirtualUser[] = []
const rooms = new Map<string, RoomLedger>()
let senders: VirtualUser[] = []
let ratePerS = 0
let scheduleBaseMs = 0
let issued = 0
let cursor = 0
const totals = { sends: 0, acksOk: 0, acksError: 0, unanswered: 0, lateAcks: 0, deliveries: 0, drops: 0, recovered: 0 }
const windows = new Map<number, WindowState>()
let currentWindow: WindowState | undefined
let currentWindowId = 0
let lastSecondAck = new Histogram()
let addressTurn = 0

const filler = 'load test message, about the length of a short chat line.'.padEnd(Math.max(0, settings.textBytes - 18), ' lorem ipsum').slice(0, Math.max(1, settings.textBytes - 18))

const sink: UserSink = {
  settings,
  filler,
  onAck (windowId, rttMs, ack) {
    lastSecondAck.recordMs(rttMs)
    const window = windows.get(windowId)
    if (ack.ok) totals.acksOk++
    else totals.acksError++
    if (window === undefined) return
    window.pending--
    if (ack.ok) {
      window.acksOk++
      window.ack.recordMs(rttMs)
    } else {
      const code = ack.error?.code ?? 'E_UNKNOWN'
      window.acksError[code] = (window.acksError[code] ?? 0) + 1
    }
  },
  onUnanswered (windowId) {
    totals.unanswered++
    const window = windows.get(windowId)
    if (window === undefined) return
    window.pending--
    window.unanswered++
  },
  onLateAck () {
    totals.lateAcks++
  },
  onDelivery (fanoutMs) {
    totals.deliveries++
    if (currentWindow === undefined) return
    currentWindow.deliveries++
    if (fanoutMs !== undefined) currentWindow.fanout.recordMs(fanoutMs)
  },
  onDrop (user) {
    totals.drops++
    if (currentWindow === undefined) return
    currentWindow.drops++
    currentWindow.unstable.add(user)
  },
  onRecovered (count) {
    totals.recovered += count
  }
}

function resetSchedule (): void {
  senders = users.filter((user) => user.plan.sender)
  scheduleBaseMs = performance.now()
  issued = 0
}

function tick (): void {
  if (ratePerS <= 0 || senders.length === 0) return
  const due = Math.floor(((performance.now() - scheduleBaseMs) / 1000) * ratePerS * senders.length)
  let count = due - issued
  const maxBehind = Math.max(1, Math.ceil(ratePerS * senders.length * MAX_BEHIND_S))
  if (count > maxBehind) {
    if (currentWindow !== undefined) currentWindow.lagSkips += count - maxBehind
    issued += count - maxBehind
    count = maxBehind
  }
  const now = performance.now()
  for (let i = 0; i < count; i++) {
    issued++
    const user = senders[cursor++ % senders.length] as VirtualUser
    if (!user.joined) continue
    if (user.pausedUntilMs > now) {
      if (currentWindow !== undefined) currentWindow.pushbackSkips++
      continue
    }
    totals.sends++
    if (currentWindow !== undefined) {
      currentWindow.sends++
      currentWindow.pending++
    }
    user.send(currentWindowId)
  }
}

setInterval(tick, TICK_MS)
setInterval(() => {
  const now = performance.now()
  for (const user of users) if (user.pending.size > 0) user.sweep(now)
}, SWEEP_MS)
setInterval(() => {
  const cpu = process.cpuUsage()
  send({
    type: 'progress',
    connected: users.reduce((count, user) => count + (user.joined ? 1 : 0), 0),
    sends: totals.sends,
    acksOk: totals.acksOk,
    acksError: totals.acksError,
    unanswered: totals.unanswered,
    deliveries: totals.deliveries,
    drops: totals.drops,
    ackP99Ms: lastSecondAck.percentileUs(99) / 1000,
    cpuS: (cpu.user + cpu.system) / 1e6
  })
  lastSecondAck = new Histogram()
}, 1000)

/** Runs `task` over the items with at most `limit` at a time. */
async function eachLimited<T> (items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++] as T)
  })
  await Promise.all(runners)
}

function count (counts: Counts, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by
}

async function grow (plans: UserPlan[]): Promise<GrowReport> {
  const started = performance.now()
  const added = plans.map((plan) => {
    let room = rooms.get(plan.room)
    if (room === undefined) rooms.set(plan.room, room = new RoomLedger(plan.room))
    const address = settings.addresses[addressTurn++ % settings.addresses.length] as string
    return new VirtualUser(plan, room, address, sink)
  })
  const report: GrowReport = { attempted: added.length, connected: 0, connectFailures: {}, connectRetries: {}, joinFailures: {}, signInFailures: 0, ms: 0 }
  const signedIn: VirtualUser[] = []
  await eachLimited(added, settings.signInConcurrency, async (user) => {
    if (await user.signIn()) signedIn.push(user)
    else report.signInFailures++
  })
  await eachLimited(signedIn, settings.connectConcurrency, async (user) => {
    const deadline = performance.now() + settings.connectTimeoutMs
    const connected = await user.connect(deadline)
    for (const [code, times] of Object.entries(user.retries)) count(report.connectRetries, code, times)
    if (!connected.ok) {
      count(report.connectFailures, connected.reason)
      return
    }
    const joined = await user.join(performance.now() + settings.ackTimeoutMs * 2)
    if (!joined.ok) {
      count(report.joinFailures, joined.reason)
      return
    }
    report.connected++
  })
  users.push(...added)
  resetSchedule()
  report.ms = Math.round(performance.now() - started)
  return report
}

function startWindow (windowId: number): void {
  const window: WindowState = {
    startedAtMs: performance.now(),
    endedAtMs: 0,
    cpu: process.cpuUsage(),
    sends: 0,
    acksOk: 0,
    acksError: {},
    unanswered: 0,
    pending: 0,
    ack: new Histogram(),
    fanout: new Histogram(),
    deliveries: 0,
    drops: 0,
    unstable: new Set(),
    pushbackSkips: 0,
    lagSkips: 0
  }
  windows.set(windowId, window)
  currentWindow = window
  currentWindowId = windowId
}

async function endWindow (windowId: number): Promise<WindowReport> {
  const window = windows.get(windowId)
  if (window === undefined) throw new Error(`no window ${windowId}`)
  window.endedAtMs = performance.now()
  const cpu = process.cpuUsage(window.cpu)
  if (currentWindowId === windowId) {
    currentWindow = undefined
    currentWindowId = 0
  }
  // Every send of the window gets its answer or its timeout before the window reports.
  const deadline = performance.now() + settings.ackTimeoutMs + 2 * SWEEP_MS
  while (window.pending > 0 && performance.now() < deadline) await sleep(20)
  windows.delete(windowId)
  return {
    durationMs: window.endedAtMs - window.startedAtMs,
    sends: window.sends,
    acksOk: window.acksOk,
    acksError: window.acksError,
    unanswered: window.unanswered + window.pending,
    ack: window.ack.toJSON(),
    fanout: window.fanout.toJSON(),
    deliveries: window.deliveries,
    drops: window.drops,
    unstable: window.unstable.size,
    connected: users.reduce((n, user) => n + (user.joined ? 1 : 0), 0),
    pushbackSkips: window.pushbackSkips,
    lagSkips: window.lagSkips,
    cpuUserS: cpu.user / 1e6,
    cpuSystemS: cpu.system / 1e6
  }
}

/** Stops sending, lets every ack and delivery arrive, then accounts every room. */
async function settle (quietMs: number, maxMs: number): Promise<LedgerReport> {
  ratePerS = 0
  const deadline = performance.now() + maxMs
  const pending = (): number => users.reduce((n, user) => n + user.pending.size, 0)
  while (pending() > 0 && performance.now() < deadline) await sleep(50)
  let last = totals.deliveries
  let quietSince = performance.now()
  while (performance.now() < deadline) {
    await sleep(50)
    const recovering = users.some((user) => !user.joined && user.member !== undefined && user.member.connected === false && settings.autoReconnect)
    if (totals.deliveries !== last || recovering) {
      last = totals.deliveries
      quietSince = performance.now()
    } else if (performance.now() - quietSince >= quietMs) {
      break
    }
  }
  return account(rooms.values(), totals)
}

async function reconnect (wanted: number, deadlineMs: number): Promise<ReconnectReport> {
  const candidates = users.filter((user) => user.joined)
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[candidates[i], candidates[j]] = [candidates[j] as VirtualUser, candidates[i] as VirtualUser]
  }
  const chosen = candidates.slice(0, wanted)
  const recoveredBefore = totals.recovered
  const time = new Histogram()
  const report: ReconnectReport = { attempted: chosen.length, succeeded: 0, failures: {}, time: time.toJSON(), retries: {}, recovered: 0 }
  for (const user of chosen) for (const key of Object.keys(user.retries)) delete user.retries[key]
  const deadline = performance.now() + deadlineMs
  await Promise.all(chosen.map(async (user) => {
    const outcome = await user.dropAndRejoin(deadline)
    for (const [code, times] of Object.entries(user.retries)) count(report.retries, code, times)
    if (outcome.ok) {
      report.succeeded++
      time.recordMs(outcome.ms)
    } else {
      count(report.failures, outcome.reason)
    }
  }))
  report.time = time.toJSON()
  report.recovered = totals.recovered - recoveredBefore
  return report
}

async function reset (): Promise<void> {
  ratePerS = 0
  for (const user of users) user.close()
  users.length = 0
  rooms.clear()
  senders = []
  windows.clear()
  currentWindow = undefined
  currentWindowId = 0
  for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] = 0
  await sleep(200)
}

function snapshot (): SnapshotReport {
  const memory = process.memoryUsage()
  return { connected: users.reduce((n, user) => n + (user.connected ? 1 : 0), 0), users: users.length, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed }
}

async function handle (request: DriverRequest): Promise<unknown> {
  switch (request.type) {
    case 'grow': return await grow(request.users)
    case 'rate':
      ratePerS = request.ratePerS
      resetSchedule()
      return null
    case 'window-start':
      startWindow(request.windowId)
      return null
    case 'window-end': return await endWindow(request.windowId)
    case 'settle': return await settle(request.quietMs, request.maxMs)
    case 'reconnect': return await reconnect(request.count, request.deadlineMs)
    case 'reset': return await reset()
    case 'snapshot': return snapshot()
  }
}

process.on('message', (message: { id: number, request: DriverRequest }) => {
  handle(message.request).then(
    (result) => send({ type: 'reply', id: message.id, result }),
    (error: unknown) => send({ type: 'error', id: message.id, message: error instanceof Error ? error.stack ?? error.message : String(error) })
  )
})
// The coordinator's end is ours: exit with it rather than linger.
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
