import { Fleet } from './load/fleet.js'
import { driverOptions, workersEnv, resultFields, serverOptions, withSession } from './load/harness.js'
import { Histogram, type LatencySummary } from './load/histogram.js'
import type { Counts } from './load/fleet-messages.js'
import { type TargetResult } from './load/points.js'
import { Args, percent, resultsDir, runAsScript, round, sleep, writeResults } from './load/report.js'
import type { TargetKind } from './load/targets.js'

/**
 * The seed's reconnect test, answered: a population of users in busy rooms of 20 (some members
 * of every room keep sending), then N of them lose their connection at the same moment (the
 * TCP connection is cut, as a network failure would) and reconnect at once, rejoining their
 * room with `since`. Levels 1 … 10 (the seed's range, repeated to get a distribution) and 100,
 * 1000, 5000. Per level: success % (rejoined within 10 s), time from the cut to rejoined
 * p50/p99, refusals the clients were told to retry, and messages missed across the reconnect
 * (acked messages a reconnected member never got, live or through `since`: must be 0).
 *
 *   node dist/scripts/bench-reconnect.js [--targets ours,plain,raw] [--levels 1,2,…] [--population N]
 *     [--senders-per-room 4] [--rate 1] [--deadline 10] [--drivers N] [--workers N (default: the service's)] [--smoke] [--out dir]
 */

export const RECONNECT_LEVELS = [1, 2, 3, 5, 10, 100, 1000, 5000]
const SMOKE_LEVELS = [1, 5]

export interface ReconnectPoint {
  simultaneous: number
  rounds: number
  attempted: number
  succeeded: number
  successPct: number
  time: LatencySummary
  failures: Counts
  /** Refusals the clients were told to retry (E_OVERLOADED with retryAfterMs), by code. */
  retries: Counts
  /** Messages the reconnected clients read back through `since`. */
  recovered: number
  /** Acked messages missing at a member that is connected after the level (not received live nor through `since`): must be 0. */
  missed: number
  /** Acked messages not (yet) received by members still disconnected after the level (those that failed to rejoin). */
  owedToDisconnected: number
  serverCores: number
}

function roundsFor (level: number, smoke: boolean): number {
  if (smoke) return 2
  return level <= 10 ? 10 : level <= 100 ? 3 : level <= 1000 ? 2 : 1
}

export async function benchReconnect (args: Args): Promise<string> {
  const smoke = args.flag('smoke')
  const targets = args.list('targets', ['ours', 'plain', 'raw']) as TargetKind[]
  const levels = args.numbers('levels', smoke ? SMOKE_LEVELS : RECONNECT_LEVELS)
  const population = args.number('population', smoke ? 40 : Math.max(...levels) + 1000)
  const sendersPerRoom = args.number('senders-per-room', 4)
  const ratePerS = args.number('rate', 1)
  const roomSize = args.number('room-size', 20)
  const deadlineMs = args.number('deadline', 10) * 1000
  const drivers = args.number('drivers', Fleet.processesFor(population, population >= 1000 ? 2 : 1))
  const started = Date.now()
  const results: Array<TargetResult<ReconnectPoint>> = []

  for (const kind of targets) {
    const result = await withSession(kind, { benchmark: 'reconnect', smoke, drivers, target: serverOptions(args, workersEnv(args), kind), fleet: driverOptions(args, kind) }, async (session) => {
      session.status = `reconnect: connecting ${population} users`
      const grown = await session.fleet.grow(population, { roomSize, sendersPerRoom })
      if (grown.connected < population) session.progress.log(`[reconnect · ${kind}] only ${grown.connected} of ${population} users connected: ${JSON.stringify(grown.connectFailures)}`)
      await session.fleet.rate(ratePerS)
      await sleep(smoke ? 500 : 2000)
      const points: ReconnectPoint[] = []
      let missedSoFar = 0
      let stoppedEarly: string | undefined
      for (const level of levels) {
        const rounds = roundsFor(level, smoke)
        const time = new Histogram()
        const point: ReconnectPoint = { simultaneous: level, rounds, attempted: 0, succeeded: 0, successPct: 0, time: time.summary(), failures: {}, retries: {}, recovered: 0, missed: 0, owedToDisconnected: 0, serverCores: 0 }
        let busySeconds = 0
        let wallSeconds = 0
        for (let round = 1; round <= rounds; round++) {
          session.status = `reconnect ${level} at once, round ${round}/${rounds}`
          const before = session.target.meter.sample()
          const outcome = await session.fleet.reconnect(level, deadlineMs)
          const after = session.target.meter.sample()
          busySeconds += after.cpuS - before.cpuS
          wallSeconds += (after.atMs - before.atMs) / 1000
          point.attempted += outcome.attempted
          point.succeeded += outcome.succeeded
          point.recovered += outcome.recovered
          time.merge(outcome.time.toJSON())
          for (const [code, n] of Object.entries(outcome.failures)) point.failures[code] = (point.failures[code] ?? 0) + n
          for (const [code, n] of Object.entries(outcome.retries)) point.retries[code] = (point.retries[code] ?? 0) + n
          await sleep(smoke ? 200 : 1000)
        }
        session.status = `reconnect ${level}: accounting`
        const ledger = await session.fleet.settle(smoke ? 300 : 1000, 20_000)
        // The ledger counts over the whole run: a level's share is the growth since the last one.
        point.missed = Math.max(0, ledger.missingConnected - missedSoFar)
        missedSoFar = ledger.missingConnected
        point.owedToDisconnected = ledger.missingDisconnected
        point.time = time.summary()
        point.successPct = percent(point.succeeded, point.attempted)
        point.serverCores = wallSeconds === 0 ? 0 : round(busySeconds / wallSeconds, 3)
        points.push(point)
        stoppedEarly = session.target.exitedEarly()
        if (stoppedEarly !== undefined) break
        session.progress.log(`[reconnect · ${kind}] ${level} at once × ${rounds}: ${point.successPct} % rejoined, p50 ${point.time.p50Ms} ms, p99 ${point.time.p99Ms} ms, max ${point.time.maxMs} ms, told to retry ${JSON.stringify(point.retries)}, recovered ${point.recovered}, missed ${point.missed}${point.owedToDisconnected > 0 ? `, owed to ${ledger.membersDisconnected} still disconnected ${point.owedToDisconnected}` : ''}`)
        await session.fleet.rate(ratePerS)
        await sleep(smoke ? 200 : 1000)
      }
      return {
        ...resultFields(session, drivers, stoppedEarly),
        points
      }
    })
    results.push(result)
  }

  return writeResults('reconnect', {
    smoke,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    notes: [
      `${population} users in rooms of ${roomSize}; ${sendersPerRoom} members of every room send ${ratePerS} message(s) a second throughout (busy rooms)`,
      'a reconnect: the client\'s TCP connection is destroyed, the client notices, reconnects at once and sends room:join with since = the last seq it holds without a gap, reading missed pages until none is left',
      `success = rejoined within ${deadlineMs / 1000} s of the cut; a refusal with retryAfterMs is retried after that delay`,
      'levels of 10 or fewer are repeated 10 times (3 times for 100, twice for 1000) and their times pooled'
    ],
    results
  }, resultsDir(args))
}

await runAsScript(import.meta.url, benchReconnect)
