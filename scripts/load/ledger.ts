import type { LedgerReport } from './fleet-messages.js'

/**
 * Delivery accounting of one driver process. Every room lives wholly in one driver, so the
 * driver knows each room's acked seqs and what each member received; at the end every acked
 * message is checked against every member that was in the room when it was stored. Received
 * seqs are kept as ranges (one range while nothing is missing, so it stays small).
 */

export class MemberRecord {
  /** The room's seq when the member first joined: later acked seqs are owed to it. */
  readonly joinSeq: number
  /** Sorted, disjoint, non-adjacent [from, to] ranges of received seqs, flattened. */
  #ranges: number[] = []
  #lastLive = 0
  orderViolations = 0
  connected = true

  constructor (joinSeq: number) {
    this.joinSeq = joinSeq
    this.#lastLive = joinSeq
  }

  /** A live `message` event. */
  live (seq: number): void {
    if (seq <= this.#lastLive) this.orderViolations++
    else this.#lastLive = seq
    this.add(seq)
  }

  /** A seq received any way (live or in a `missed` page). */
  add (seq: number): void {
    const ranges = this.#ranges
    const length = ranges.length
    if (length > 0 && seq === ranges[length - 1] + 1) {
      ranges[length - 1] = seq
      return
    }
    if (length === 0 || seq > ranges[length - 1] + 1) {
      ranges.push(seq, seq)
      return
    }
    // Rare (recovery pages): a seq at or below the last range. Ranges before i end below seq - 1.
    let i = 0
    while (ranges[i + 1] < seq - 1) i += 2
    if (seq >= ranges[i] && seq <= ranges[i + 1]) return
    if (seq === ranges[i + 1] + 1) {
      ranges[i + 1] = seq
      if (ranges[i + 2] === seq + 1) ranges.splice(i + 1, 2)
      return
    }
    if (seq === ranges[i] - 1) ranges[i] = seq
    else ranges.splice(i, 0, seq, seq)
  }

  /** The highest seq below which nothing owed is missing: where a rejoin resumes (`since`). */
  contiguousUpTo (): number {
    const first = this.#ranges[0]
    if (first === undefined || first > this.joinSeq + 1) return this.joinSeq
    return this.#ranges[1]
  }

  /** How many of the sorted seqs (above joinSeq) this member lacks. */
  missing (sortedAcked: readonly number[]): { expected: number, missing: number } {
    let expected = 0
    let missing = 0
    let range = 0
    const ranges = this.#ranges
    for (const seq of sortedAcked) {
      if (seq <= this.joinSeq) continue
      expected++
      while (range < ranges.length && ranges[range + 1] < seq) range += 2
      if (range >= ranges.length || seq < ranges[range]) missing++
    }
    return { expected, missing }
  }
}

export class RoomLedger {
  readonly name: string
  readonly acked: number[] = []
  readonly members: MemberRecord[] = []

  constructor (name: string) {
    this.name = name
  }
}

export interface RunTotals {
  unanswered: number
  lateAcks: number
}

/** Checks every room's acked messages against its members. */
export function account (rooms: Iterable<RoomLedger>, totals: RunTotals): LedgerReport {
  const report: LedgerReport = {
    rooms: 0,
    members: 0,
    expected: 0,
    delivered: 0,
    missingConnected: 0,
    missingDisconnected: 0,
    membersDisconnected: 0,
    orderViolations: 0,
    acked: 0,
    unanswered: totals.unanswered,
    lateAcks: totals.lateAcks
  }
  for (const room of rooms) {
    report.rooms++
    const acked = [...new Set(room.acked)].sort((a, b) => a - b)
    report.acked += acked.length
    for (const member of room.members) {
      report.members++
      report.orderViolations += member.orderViolations
      const { expected, missing } = member.missing(acked)
      report.expected += expected
      report.delivered += expected - missing
      if (member.connected) {
        report.missingConnected += missing
      } else {
        report.membersDisconnected++
        report.missingDisconnected += missing
      }
    }
  }
  return report
}
