import type { ChildProcess } from 'node:child_process'
import type { HistogramData } from './histogram.js'

/**
 * The IPC between the benchmark (the coordinator) and its driver processes. Each request carries
 * an id that its reply repeats; drivers also push a progress report every second. Plain data
 * only (structured clone).
 */

export interface DriverSettings {
  url: string
  /** Loopback source addresses this driver spreads its connections over. */
  addresses: string[]
  driverIndex: number
  ackTimeoutMs: number
  connectTimeoutMs: number
  connectConcurrency: number
  signInConcurrency: number
  /** Bytes of each message text (the send timestamp plus filler). */
  textBytes: number
  /** Reconnect and rejoin with `since` when the server drops a connection. */
  autoReconnect: boolean
}

export interface UserPlan {
  index: number
  username: string
  room: string
  sender: boolean
}

export type DriverRequest =
  | { type: 'grow', users: UserPlan[] }
  | { type: 'rate', ratePerS: number }
  | { type: 'window-start', windowId: number }
  | { type: 'window-end', windowId: number }
  | { type: 'settle', quietMs: number, maxMs: number }
  | { type: 'reconnect', count: number, deadlineMs: number }
  | { type: 'reset' }
  | { type: 'snapshot' }

export type Counts = Record<string, number>

export interface GrowReport {
  attempted: number
  connected: number
  /** Connects that did not succeed within the connect deadline, by code or reason. */
  connectFailures: Counts
  /** Refusals a client was told to retry (E_OVERLOADED with retryAfterMs) and retried. */
  connectRetries: Counts
  joinFailures: Counts
  signInFailures: number
  ms: number
}

export interface WindowReport {
  durationMs: number
  sends: number
  acksOk: number
  /** Error acks by code. */
  acksError: Counts
  /** Sends of the window with no ack within the ack timeout. */
  unanswered: number
  ack: HistogramData
  fanout: HistogramData
  deliveries: number
  /** Unexpected disconnects during the window. */
  drops: number
  /** Connections that dropped at least once during the window. */
  unstable: number
  /** Connected users at the end of the window. */
  connected: number
  /** Sends a client held back because the server said retryAfterMs. */
  pushbackSkips: number
  /** Sends the driver could not make on time (its own CPU was short). */
  lagSkips: number
  cpuUserS: number
  cpuSystemS: number
}

export interface LedgerReport {
  rooms: number
  members: number
  /** Member × acked message pairs that should have been delivered. */
  expected: number
  delivered: number
  /** Expected deliveries missing at members that were connected (or had rejoined) at the end. */
  missingConnected: number
  /** Expected deliveries missing at members that were disconnected at the end. */
  missingDisconnected: number
  membersDisconnected: number
  /** A live `message` with a seq not above the previous one (a duplicate or out of order). */
  orderViolations: number
  acked: number
  /** Sends never answered (over the whole run, not one window). */
  unanswered: number
  lateAcks: number
}

export interface ReconnectReport {
  attempted: number
  /** Rejoined (connected and `room:join` with `since` answered) within the deadline. */
  succeeded: number
  failures: Counts
  /** Drop → rejoined, for the ones that made it. */
  time: HistogramData
  /** Connect refusals the clients were told to retry. */
  retries: Counts
  /** Messages recovered through `since` (missed pages). */
  recovered: number
}

export interface SnapshotReport {
  connected: number
  users: number
  rssBytes: number
  heapUsedBytes: number
}

export interface ProgressReport {
  type: 'progress'
  connected: number
  sends: number
  acksOk: number
  acksError: number
  unanswered: number
  deliveries: number
  drops: number
  /** The p99 ack time (ms) over the last second. */
  ackP99Ms: number
  cpuS: number
}

export type DriverReply = { type: 'reply', id: number, result: unknown } | { type: 'error', id: number, message: string } | ProgressReport

/** A driver process as its parent sees it: its latest progress report and the requests awaiting a reply. */
export interface DriverLink<P> {
  child: ChildProcess
  progress: P | undefined
  waiting: Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void }>
}

/**
 * Routes a driver's messages: progress reports into `link.progress`, replies to their waiting
 * requests; when the driver exits, every request still waiting is rejected.
 */
export function routeReplies<P extends { type: 'progress' }> (link: DriverLink<P>, label: string): void {
  link.child.on('message', (reply: { type: 'reply', id: number, result: unknown } | { type: 'error', id: number, message: string } | P) => {
    if (reply.type === 'progress') {
      link.progress = reply as P
      return
    }
    const answer = reply as { type: 'reply', id: number, result: unknown } | { type: 'error', id: number, message: string }
    const waiter = link.waiting.get(answer.id)
    if (waiter === undefined) return
    link.waiting.delete(answer.id)
    if (answer.type === 'reply') waiter.resolve(answer.result)
    else waiter.reject(new Error(`${label}: ${answer.message}`))
  })
  link.child.once('exit', (code, signal) => {
    for (const waiter of link.waiting.values()) waiter.reject(new Error(`${label} exited (${String(code ?? signal)})`))
    link.waiting.clear()
  })
}
