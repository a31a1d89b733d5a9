import { Fleet } from './load/fleet.js'
import { driverOptions, workersEnv, resultFields, measure, serverOptions, withSession } from './load/harness.js'
import { connectFigures, deliveryFigures, failurePct, sumCounts, windowFigures, type ConnectFigures, type DeliveryFigures, type TargetResult, type WindowFigures } from './load/points.js'
import { Args, percent, resultsDir, runAsScript, sleep, writeResults } from './load/report.js'
import type { TargetKind } from './load/targets.js'

/**
 * The seed's message flood, answered: every user sends 10 messages a second into its room of
 * 20, from 10 to 500 users (the seed's range) and on to 5000, a fresh set of users per level.
 * Per level: delivery % of acked messages (every acked message to every member), silently
 * lost (acked but missing at a connected member, or never answered: must be 0), error acks by
 * code (the excess a server refuses must be told: E_RATE_LIMITED / E_OVERLOADED), connection
 * stability % (users that connected and never dropped during the flood), ack p99, and the
 * deliveries per second achieved. Our server runs with its message rate limit set to the
 * flood's rate (MESSAGE_RATE_PER_S=10, MESSAGE_BURST=20: reported in the results).
 *
 *   node dist/scripts/bench-flood.js [--targets ours,plain,raw] [--levels 10,50,…] [--duration 6]
 *     [--rate 10] [--room-size 20] [--drivers N] [--workers N (default: the service's)] [--smoke] [--out dir]
 */

export const FLOOD_LEVELS = [10, 50, 100, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000]
const SMOKE_LEVELS = [10, 30]

export interface FloodPoint extends WindowFigures {
  users: number
  connect: ConnectFigures
  delivery: DeliveryFigures
  /** Users that connected and did not drop during the flood window, of all users of the level. */
  stabilityPct: number
  failurePct: number
  /** Sends the driver made per second, and what the level asks for (users × rate). */
  sendsPerS: number
  intendedSendsPerS: number
}

export async function benchFlood (args: Args): Promise<string> {
  const smoke = args.flag('smoke')
  const targets = args.list('targets', ['ours', 'plain', 'raw']) as TargetKind[]
  const levels = args.numbers('levels', smoke ? SMOKE_LEVELS : FLOOD_LEVELS)
  const durationMs = args.number('duration', smoke ? 1 : 6) * 1000
  const warmupMs = args.number('warmup', smoke ? 0.3 : 1) * 1000
  const ratePerS = args.number('rate', 10)
  const roomSize = args.number('room-size', 20)
  const maxUsers = Math.max(...levels)
  const drivers = args.number('drivers', Fleet.processesFor(maxUsers, maxUsers >= 500 ? 2 : 1))
  const started = Date.now()
  const results: Array<TargetResult<FloodPoint>> = []

  for (const kind of targets) {
    const env = {
      ...workersEnv(args),
      MESSAGE_RATE_PER_S: String(ratePerS),
      MESSAGE_BURST: String(2 * ratePerS)
    }
    const result = await withSession(kind, { benchmark: 'flood', smoke, drivers, target: serverOptions(args, env, kind), fleet: driverOptions(args, kind) }, async (session) => {
      const points: FloodPoint[] = []
      let stoppedEarly: string | undefined
      for (const users of levels) {
        session.status = `flood ${users} VUs`
        const connect = connectFigures(await session.fleet.grow(users, { roomSize }))
        await session.fleet.rate(ratePerS)
        await sleep(warmupMs)
        const window = windowFigures(await measure(session, durationMs))
        session.status = `flood ${users} VUs: accounting`
        const delivery = deliveryFigures(await session.fleet.settle(smoke ? 300 : 1000, 20_000))
        await session.fleet.reset()
        const stable = Math.max(0, connect.connected - window.unstable)
        const point: FloodPoint = {
          users,
          connect,
          ...window,
          delivery,
          stabilityPct: percent(stable, connect.attempted),
          failurePct: failurePct(connect, window),
          sendsPerS: Math.round(window.sends / window.seconds),
          intendedSendsPerS: users * ratePerS
        }
        points.push(point)
        session.progress.log(`[flood · ${kind}] ${users} VUs: delivery ${delivery.deliveryPct} %, silently lost ${delivery.silentlyLost}, errors ${JSON.stringify(window.acksError)}, stability ${point.stabilityPct} %, ack p99 ${window.ack.p99Ms} ms, ${window.deliveriesPerS} deliveries/s, server ${window.serverCores} cores, driver ${window.driverCores} cores, lag skips ${window.lagSkips}`)
        const exited = session.target.exitedEarly()
        if (exited !== undefined) {
          stoppedEarly = exited
          break
        }
        if (window.ack.p99Ms > 10_000 || point.failurePct > 50 || (sumCounts(window.acksError) === 0 && delivery.deliveryPct < 50)) {
          stoppedEarly = `collapsed at ${users} VUs (ack p99 ${window.ack.p99Ms} ms, failure ${point.failurePct} %, delivery ${delivery.deliveryPct} %)`
          break
        }
      }
      return {
        ...resultFields(session, drivers, stoppedEarly),
        points
      }
    })
    results.push(result)
  }

  return writeResults('flood', {
    smoke,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    notes: [
      `rooms of ${roomSize}, every user sends ${ratePerS} messages a second (open loop: sends do not wait for acks); a fresh set of users per level`,
      `each level: ${warmupMs / 1000} s of flood, then a ${durationMs / 1000} s window; then sending stops and every delivery is accounted`,
      `ours runs with MESSAGE_RATE_PER_S=${ratePerS} and MESSAGE_BURST=${2 * ratePerS} (its rate limit set for the flood); the references have no limits`,
      'a client told E_RATE_LIMITED / E_OVERLOADED with retryAfterMs holds its sends for that long (counted as pushbackSkips)',
      'delivery % = delivered / owed over every member × acked message; silently lost = acked but missing at a member that was connected at the end + sends never answered within 5 s'
    ],
    results
  }, resultsDir(args))
}

await runAsScript(import.meta.url, benchFlood)
