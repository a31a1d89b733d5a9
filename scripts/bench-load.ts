import { Fleet } from './load/fleet.js'
import { driverOptions, workersEnv, resultFields, measure, serverOptions, withSession } from './load/harness.js'
import { connectFigures, deliveryFigures, failurePct, windowFigures, type ConnectFigures, type DeliveryFigures, type TargetResult, type WindowFigures } from './load/points.js'
import { Args, resultsDir, runAsScript, sleep, writeResults } from './load/report.js'
import type { TargetKind } from './load/targets.js'

/**
 * The seed's load test, answered: virtual users in rooms of 20, each sending one message a
 * second, from 10 to 1000 users (the seed's levels) and on to 10,000. Users are added level by
 * level while the earlier ones keep sending (a ramp, like the seed's). Per level: ack round
 * trip p50/p95/p99, failure % (failed connects + error acks + acks unanswered in 5 s, over
 * connect attempts + sends), send → receive fan-out latency. At the end the whole run's
 * deliveries are accounted: every acked message must have reached every member.
 *
 *   node dist/scripts/bench-load.js [--targets ours,plain,raw] [--levels 10,50,…] [--duration 10]
 *     [--warmup 2] [--rate 1] [--room-size 20] [--drivers N] [--workers N (default: the service's)] [--smoke] [--out dir]
 */

export const LOAD_LEVELS = [10, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 2000, 3000, 5000, 7500, 10_000]
const SMOKE_LEVELS = [10, 30]

export interface LoadPoint extends WindowFigures {
  users: number
  connect: ConnectFigures
  failurePct: number
  /** Sends the driver made per second, and what the level asks for (users × rate): the driver's own limit shows here. */
  sendsPerS: number
  intendedSendsPerS: number
}

export interface LoadTargetResult extends TargetResult<LoadPoint> {
  delivery: DeliveryFigures
}

export async function benchLoad (args: Args): Promise<string> {
  const smoke = args.flag('smoke')
  const targets = args.list('targets', ['ours', 'plain', 'raw']) as TargetKind[]
  const levels = args.numbers('levels', smoke ? SMOKE_LEVELS : LOAD_LEVELS)
  const durationMs = args.number('duration', smoke ? 1 : 10) * 1000
  const warmupMs = args.number('warmup', smoke ? 0.3 : 2) * 1000
  const ratePerS = args.number('rate', 1)
  const roomSize = args.number('room-size', 20)
  const maxUsers = Math.max(...levels)
  const drivers = args.number('drivers', Fleet.processesFor(maxUsers, maxUsers >= 1000 ? 2 : 1))
  const started = Date.now()
  const results: LoadTargetResult[] = []

  for (const kind of targets) {
    const env = workersEnv(args)
    const result = await withSession(kind, { benchmark: 'load', smoke, drivers, target: serverOptions(args, env, kind), fleet: driverOptions(args, kind) }, async (session) => {
      const points: LoadPoint[] = []
      let stoppedEarly: string | undefined
      await session.fleet.rate(ratePerS)
      for (const users of levels) {
        session.status = `load ${users} VUs`
        const connect = connectFigures(await session.fleet.grow(users, { roomSize }))
        await sleep(warmupMs)
        const window = windowFigures(await measure(session, durationMs))
        const point: LoadPoint = { users, connect, ...window, failurePct: failurePct(connect, window), sendsPerS: Math.round(window.sends / window.seconds), intendedSendsPerS: users * ratePerS }
        points.push(point)
        session.progress.log(`[load · ${kind}] ${users} VUs: ack p50 ${point.ack.p50Ms} p99 ${point.ack.p99Ms} ms, fan-out p99 ${point.fanout.p99Ms} ms, failure ${point.failurePct} %, ${point.deliveriesPerS} deliveries/s, server ${point.serverCores} cores, driver ${point.driverCores} cores`)
        const exited = session.target.exitedEarly()
        if (exited !== undefined) {
          stoppedEarly = exited
          break
        }
        if (point.failurePct > 50 || point.ack.p99Ms > 10_000) {
          stoppedEarly = `collapsed at ${users} VUs (failure ${point.failurePct} %, ack p99 ${point.ack.p99Ms} ms)`
          break
        }
      }
      session.status = 'load: accounting deliveries'
      const delivery = deliveryFigures(await session.fleet.settle(smoke ? 300 : 1000, 30_000))
      session.progress.log(`[load · ${kind}] delivery ${delivery.deliveryPct} %, silently lost ${delivery.silentlyLost}, order violations ${delivery.orderViolations}`)
      const target: LoadTargetResult = {
        ...resultFields(session, drivers, stoppedEarly),
        points,
        delivery
      }
      return target
    })
    results.push(result)
  }

  return writeResults('load', {
    smoke,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    notes: [
      `rooms of ${roomSize}, every user sends ${ratePerS} message(s) a second; users are added level by level while the earlier ones keep sending`,
      `each level: ${warmupMs / 1000} s after the new users joined, then a ${durationMs / 1000} s window`,
      'failure % = (connects failed within 10 s + join failures + error acks + acks unanswered within 5 s) / (connect attempts + sends)',
      'fan-out latency: the sender\'s wall clock in the text to the receiver\'s wall clock, over every delivery'
    ],
    results
  }, resultsDir(args))
}

await runAsScript(import.meta.url, benchLoad)
