import type { Counts, GrowReport, LedgerReport } from './fleet-messages.js'
import type { LatencySummary } from './histogram.js'
import { otherCores, type MeasuredWindow } from './harness.js'
import { percent, round } from './report.js'
import type { SourceState } from './targets.js'

/** The shapes benchmark results are written in, and the conversions from driver reports. */

export interface TargetResult<P> {
  kind: string
  label: string
  settings: Record<string, string>
  /** Ours: the commit it ran from, and the server files changed on top of it. */
  source?: SourceState
  driverProcesses: number
  points: P[]
  /** Why a target stopped before the last level, if it did. */
  stoppedEarly?: string
  /** The server's own warnings, counted by message. */
  serverWarnings: Record<string, number>
}

export interface WindowFigures {
  seconds: number
  sends: number
  acksOk: number
  acksError: Counts
  unanswered: number
  ack: LatencySummary
  fanout: LatencySummary
  deliveriesPerS: number
  acksPerS: number
  drops: number
  unstable: number
  pushbackSkips: number
  lagSkips: number
  serverCores: number
  driverCores: number
  machineCores: number
  /** Machine CPU used by neither the server nor the driver (other users of the box), in cores. */
  otherCores: number
  /** Times the window was measured (again while other processes disturbed it). */
  attempts: number
  serverRssMiB: number
}

export function sumCounts (counts: Counts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

export function windowFigures (window: MeasuredWindow): WindowFigures {
  const seconds = window.durationMs / 1000
  return {
    seconds: round(seconds, 1),
    sends: window.sends,
    acksOk: window.acksOk,
    acksError: window.acksError,
    unanswered: window.unanswered,
    ack: window.ack.summary(),
    fanout: window.fanout.summary(),
    deliveriesPerS: Math.round(window.deliveries / seconds),
    acksPerS: Math.round(window.acksOk / seconds),
    drops: window.drops,
    unstable: window.unstable,
    pushbackSkips: window.pushbackSkips,
    lagSkips: window.lagSkips,
    serverCores: round(window.serverCores, 3),
    driverCores: round(window.driverCores, 3),
    machineCores: round(window.machineCores, 3),
    otherCores: round(otherCores(window), 3),
    attempts: window.attempts,
    serverRssMiB: round(window.serverRssBytes / 2 ** 20, 1)
  }
}

export interface DeliveryFigures {
  /** Delivered / owed, over every member × acked message. */
  deliveryPct: number
  expected: number
  delivered: number
  /** Acked but missing at a connected member, plus sends never answered: must be 0. */
  silentlyLost: number
  missingAtDisconnected: number
  membersDisconnected: number
  orderViolations: number
  unanswered: number
  lateAcks: number
}

export function deliveryFigures (ledger: LedgerReport): DeliveryFigures {
  return {
    deliveryPct: percent(ledger.delivered, ledger.expected),
    expected: ledger.expected,
    delivered: ledger.delivered,
    silentlyLost: ledger.missingConnected + ledger.unanswered,
    missingAtDisconnected: ledger.missingDisconnected,
    membersDisconnected: ledger.membersDisconnected,
    orderViolations: ledger.orderViolations,
    unanswered: ledger.unanswered,
    lateAcks: ledger.lateAcks
  }
}

export interface ConnectFigures {
  attempted: number
  connected: number
  failures: Counts
  retries: Counts
  joinFailures: Counts
  signInFailures: number
  seconds: number
}

export function connectFigures (grow: GrowReport): ConnectFigures {
  return {
    attempted: grow.attempted,
    connected: grow.connected,
    failures: grow.connectFailures,
    retries: grow.connectRetries,
    joinFailures: grow.joinFailures,
    signInFailures: grow.signInFailures,
    seconds: round(grow.ms / 1000, 1)
  }
}

/** Failed connects + error acks + unanswered sends, over connect attempts + sends. */
export function failurePct (connect: ConnectFigures, window: WindowFigures): number {
  const failed = sumCounts(connect.failures) + sumCounts(connect.joinFailures) + connect.signInFailures + sumCounts(window.acksError) + window.unanswered
  const attempts = connect.attempted + window.sends
  return attempts === 0 ? 0 : percent(failed, attempts)
}

export const mib = (bytes: number): number => round(bytes / 2 ** 20, 1)
