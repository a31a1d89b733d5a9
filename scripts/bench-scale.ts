import { availableParallelism } from 'node:os'
import { driverOptions, resultFields, measure, serverOptions, withSession } from './load/harness.js'
import { deliveryFigures, sumCounts, windowFigures, type DeliveryFigures, type TargetResult, type WindowFigures } from './load/points.js'
import { Args, percent, resultsDir, runAsScript, round, sleep, writeResults } from './load/report.js'
import { TARGET_LABELS, type TargetKind } from './load/targets.js'

/**
 * Throughput at saturation: a fixed population (1000 users in rooms of 20, all sending) whose
 * per-user rate climbs step by step, so the offered load grows from 20k deliveries a second
 * until a server cannot keep up. Ours runs with 1, 2 … N workers (N = cores), with the Piscina
 * pool on (every text checked on a pool thread) and off (all inline), and once with its write
 * coalescing off; the references run as they are, plus the raw ws server without its write
 * batching (a plain ws server). Per step: deliveries/s, ack p50/p99, server and driver CPU and
 * server CPU µs per delivery. Saturation = the most deliveries/s at ack p99 ≤ 250 ms with
 * under 1 % failures.
 *
 *   node dist/scripts/bench-scale.js [--configs ours-w1,ours-w2,…,plain,raw,raw-unbatched]
 *     [--rates 1,2,4,…] [--users 1000] [--duration 5] [--drivers 2] [--smoke] [--out dir]
 */

export const SCALE_RATES = [1, 2, 4, 6, 8, 12, 16, 24]
export const SATURATION_P99_MS = 250

export interface ScalePoint extends WindowFigures {
  ratePerUser: number
  offeredDeliveriesPerS: number
  failurePct: number
  /** Server CPU time per delivery, in microseconds. */
  serverCpuUsPerDelivery: number
}

export interface ScaleConfigResult extends TargetResult<ScalePoint> {
  config: string
  /** The most deliveries/s at ack p99 ≤ 250 ms and failures under 1 %. */
  saturationDeliveriesPerS: number
  peakDeliveriesPerS: number
  /** Every acked message of the whole climb checked at every member, after sending stopped. */
  delivery: DeliveryFigures
}

interface Config {
  name: string
  kind: TargetKind
  label: string
  env: Record<string, string>
}

const LIMITS_FOR_THROUGHPUT = {
  MESSAGE_RATE_PER_S: '1000',
  MESSAGE_BURST: '2000',
  EVENT_RATE_PER_S: '1000',
  EVENT_BURST: '2000'
}

function configs (cores: number): Config[] {
  const list: Config[] = []
  for (let workers = 1; workers <= cores; workers++) {
    for (const pool of [false, true]) {
      list.push({
        name: `ours-w${workers}${pool ? '-pool' : ''}`,
        kind: 'ours',
        label: `ours, ${workers} worker${workers > 1 ? 's' : ''}, pool ${pool ? 'on' : 'off'}`,
        env: { WORKERS: String(workers), POOL_INLINE_MAX_CODE_POINTS: pool ? '0' : '1000000', ...LIMITS_FOR_THROUGHPUT }
      })
    }
  }
  list.push({ name: `ours-w${cores}-nocoalesce`, kind: 'ours', label: `ours, ${cores} workers, write coalescing off`, env: { WORKERS: String(cores), POOL_INLINE_MAX_CODE_POINTS: '1000000', WRITE_COALESCING: 'false', ...LIMITS_FOR_THROUGHPUT } })
  for (const kind of ['plain', 'raw', 'raw-unbatched'] as const) list.push({ name: kind, kind, label: TARGET_LABELS[kind], env: {} })
  return list
}

export async function benchScale (args: Args): Promise<string> {
  const smoke = args.flag('smoke')
  const cores = args.number('cores', availableParallelism())
  const all = configs(cores)
  const smokeConfigs = ['ours-w1', 'ours-w1-pool', 'plain', 'raw', 'raw-unbatched']
  const wanted = args.list('configs', smoke ? smokeConfigs : all.map((config) => config.name))
  const chosen = all.filter((config) => wanted.includes(config.name))
  const rates = args.numbers('rates', smoke ? [1, 2] : SCALE_RATES)
  const users = args.number('users', smoke ? 40 : 1000)
  const roomSize = args.number('room-size', 20)
  const durationMs = args.number('duration', smoke ? 1 : 5) * 1000
  const warmupMs = args.number('warmup', smoke ? 0.3 : 1.5) * 1000
  const drivers = args.number('drivers', smoke ? 1 : 2)
  const started = Date.now()
  const results: ScaleConfigResult[] = []

  for (const config of chosen) {
    const target = serverOptions(args, config.env, config.name)
    const fleet = driverOptions(args, config.name)
    const result = await withSession(config.kind, { benchmark: `scale ${config.name}`, smoke, drivers, target, fleet }, async (session) => {
      session.status = `scale ${config.name}: connecting ${users}`
      await session.fleet.grow(users, { roomSize })
      const points: ScalePoint[] = []
      let stoppedEarly: string | undefined
      for (const ratePerUser of rates) {
        session.status = `scale ${config.name} ${ratePerUser}/s each`
        await session.fleet.rate(ratePerUser)
        await sleep(warmupMs)
        const window = windowFigures(await measure(session, durationMs))
        const failed = sumCounts(window.acksError) + window.unanswered
        const point: ScalePoint = {
          ratePerUser,
          offeredDeliveriesPerS: users * ratePerUser * Math.min(roomSize, users),
          ...window,
          failurePct: window.sends === 0 ? 0 : percent(failed, window.sends),
          serverCpuUsPerDelivery: window.deliveriesPerS === 0 ? 0 : round((window.serverCores * 1e6) / window.deliveriesPerS, 2)
        }
        points.push(point)
        session.progress.log(`[scale · ${config.name}] ${ratePerUser}/s each: ${window.deliveriesPerS} deliveries/s of ${point.offeredDeliveriesPerS} offered, ack p50 ${window.ack.p50Ms} p99 ${window.ack.p99Ms} ms, failures ${point.failurePct} %, server ${window.serverCores} cores (${point.serverCpuUsPerDelivery} µs/delivery), driver ${window.driverCores} cores, machine ${window.machineCores} cores, lag skips ${window.lagSkips}`)
        const exited = session.target.exitedEarly()
        if (exited !== undefined) {
          stoppedEarly = exited
          break
        }
        if (window.ack.p99Ms > 2000 || point.failurePct > 10 || window.deliveriesPerS < 0.7 * point.offeredDeliveriesPerS) {
          stoppedEarly = `saturated at ${ratePerUser}/s each (ack p99 ${window.ack.p99Ms} ms, failures ${point.failurePct} %, ${window.deliveriesPerS} of ${point.offeredDeliveriesPerS} deliveries/s)`
          break
        }
      }
      const delivery = deliveryFigures(await session.fleet.settle(smoke ? 300 : 1000, 30_000))
      session.progress.log(`[scale · ${config.name}] delivery ${delivery.deliveryPct} %, silently lost ${delivery.silentlyLost} (never answered ${delivery.unanswered}, answered late ${delivery.lateAcks}), order violations ${delivery.orderViolations}`)
      const sustained = points.filter((point) => point.ack.p99Ms <= SATURATION_P99_MS && point.failurePct < 1)
      return {
        ...resultFields(session, drivers, stoppedEarly),
        config: config.name,
        label: config.label,
        points,
        saturationDeliveriesPerS: Math.max(0, ...sustained.map((point) => point.deliveriesPerS)),
        peakDeliveriesPerS: Math.max(0, ...points.map((point) => point.deliveriesPerS)),
        delivery,
        ...(stoppedEarly === undefined ? {} : { stoppedEarly })
      }
    })
    results.push(result)
  }

  return writeResults('scale', {
    smoke,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    notes: [
      `${users} users in rooms of ${roomSize}, all sending; the per-user rate climbs ${rates.join(', ')} messages a second (offered deliveries/s = users × rate × room size)`,
      `each step: ${warmupMs / 1000} s at the new rate, then a ${durationMs / 1000} s window; a config stops climbing once ack p99 passes 2 s, failures pass 10 % or fewer than 70 % of the offered deliveries arrive`,
      `saturation = the most deliveries/s at ack p99 ≤ ${SATURATION_P99_MS} ms with under 1 % failures; the driver runs on the same ${cores}-core box, so its CPU is reported beside the server's`,
      `ours runs with ${Object.entries(LIMITS_FOR_THROUGHPUT).map(([key, value]) => `${key}=${value}`).join(', ')} so its per-user limits do not cap a throughput test; pool on = POOL_INLINE_MAX_CODE_POINTS=0 (every text checked on a pool thread), off = 1000000 (all inline)`
    ],
    results
  }, resultsDir(args))
}

await runAsScript(import.meta.url, benchScale)
