import { Fleet } from './load/fleet.js'
import { driverOptions, workersEnv, resultFields, serverOptions, withSession, type Session } from './load/harness.js'
import { connectFigures, mib, sumCounts, type ConnectFigures, type TargetResult } from './load/points.js'
import { Args, resultsDir, runAsScript, round, sleep, writeResults } from './load/report.js'
import type { TargetKind } from './load/targets.js'

/**
 * The seed's top two severities, connection handling and memory, answered. Idle users (signed
 * in, connected, joined to a room of 20, then silent) are added step by step: server RSS and
 * heap per idle connection at 1k and 10k, then on in steps until connects fail or the cap is
 * reached (the most this box holds). Then every user disconnects and a few connect/disconnect
 * cycles show whether memory comes back.
 *
 *   node dist/scripts/bench-memory.js [--targets ours,plain,raw] [--steps 1000,10000,…] [--max 40000]
 *     [--cycles 5] [--cycle-users 10000] [--drivers N] [--workers N (default: the service's)] [--smoke] [--out dir]
 */

const SMOKE_STEPS = [20, 60]

export interface MemoryPoint {
  connections: number
  connect: ConnectFigures
  serverRssMiB: number
  /** Null where the server could not answer its stats request (out of file descriptors). */
  serverHeapMiB: number | null
  /** (RSS now − RSS with no connections) / connections, in KB (1000 bytes). */
  rssPerConnectionKB: number
  /** (RSS now − RSS at the previous step) / connections added since: without start-up growth. */
  marginalRssPerConnectionKB: number
  heapPerConnectionKB: number | null
  /** The load driver's own memory per connection (socket.io-client), for scale. */
  driverRssPerConnectionKB: number
}

export interface CyclePoint {
  cycle: number
  users: number
  connected: number
  /** Server RSS after this cycle's users all disconnected. */
  serverRssMiB: number
  serverHeapMiB: number | null
}

export interface MemoryTargetResult extends TargetResult<MemoryPoint> {
  idleRssMiB: number
  idleHeapMiB: number | null
  /** The most connections held at once (every one connected and joined). */
  maxConnections: number
  /** Why the ramp ended: the cap, or the first failed connects. */
  limitReason: string
  afterDisconnectRssMiB: number
  cycles: CyclePoint[]
}

function defaultSteps (max: number): number[] {
  const steps = [1000, 10_000]
  for (let step = 15_000; step <= max; step += 5000) steps.push(step)
  return steps
}

interface Sample {
  rss: number
  /** Undefined when the server could not answer (out of file descriptors). */
  heap: number | undefined
  connections: number | undefined
}

async function sampleSettled (session: Session, settleMs: number): Promise<Sample> {
  await sleep(settleMs)
  const stats = await session.target.stats()
  return { rss: session.target.meter.sample().rssBytes, heap: stats?.heapUsedBytes, connections: stats?.connections }
}

const heapMiB = (sample: Sample): number | null => sample.heap === undefined ? null : mib(sample.heap)

export async function benchMemory (args: Args): Promise<string> {
  const smoke = args.flag('smoke')
  const targets = args.list('targets', ['ours', 'plain', 'raw']) as TargetKind[]
  const max = args.number('max', smoke ? 60 : 40_000)
  const steps = args.numbers('steps', smoke ? SMOKE_STEPS : defaultSteps(max)).filter((step) => step <= max)
  const cycles = args.number('cycles', smoke ? 2 : 5)
  const cycleUsers = args.number('cycle-users', smoke ? 20 : 10_000)
  const roomSize = args.number('room-size', 20)
  const settleMs = args.number('settle', smoke ? 0.3 : 3) * 1000
  const drivers = args.number('drivers', Fleet.processesFor(max))
  const started = Date.now()
  const results: MemoryTargetResult[] = []

  for (const kind of targets) {
    const result = await withSession(kind, { benchmark: 'memory', smoke, drivers, target: serverOptions(args, workersEnv(args), kind), fleet: { addressesPerDriver: 2, ...driverOptions(args, kind) } }, async (session) => {
      await session.fleet.rate(0)
      const idle = await sampleSettled(session, settleMs)
      const points: MemoryPoint[] = []
      let limitReason = `reached the benchmark's cap of ${max}`
      let maxConnections = 0
      let previous = { rss: idle.rss, held: 0 }
      for (const step of steps) {
        session.status = `memory: ${step} idle connections`
        const connect = connectFigures(await session.fleet.grow(step, { roomSize, sendersPerRoom: 0 }))
        const driver = await session.fleet.snapshot()
        const now = await sampleSettled(session, settleMs)
        const failed = sumCounts(connect.failures) + sumCounts(connect.joinFailures) + connect.signInFailures
        const held = driver.connected
        const point: MemoryPoint = {
          connections: held,
          connect,
          serverRssMiB: mib(now.rss),
          serverHeapMiB: heapMiB(now),
          rssPerConnectionKB: held === 0 ? 0 : round((now.rss - idle.rss) / held / 1000, 2),
          marginalRssPerConnectionKB: held <= previous.held ? 0 : round((now.rss - previous.rss) / (held - previous.held) / 1000, 2),
          heapPerConnectionKB: held === 0 || now.heap === undefined || idle.heap === undefined ? null : round((now.heap - idle.heap) / held / 1000, 2),
          driverRssPerConnectionKB: held === 0 ? 0 : round(driver.rssBytes / held / 1000, 1)
        }
        points.push(point)
        previous = { rss: now.rss, held }
        session.progress.log(`[memory · ${kind}] ${held} connected (server counts ${now.connections ?? 'no answer'}): RSS ${point.serverRssMiB} MiB (${point.rssPerConnectionKB} KB per connection, ${point.marginalRssPerConnectionKB} KB per connection added), heap ${point.serverHeapMiB} MiB (${point.heapPerConnectionKB} KB per connection)${failed > 0 ? `, ${failed} failed: ${JSON.stringify(connect.failures)}` : ''}`)
        const exited = session.target.exitedEarly()
        if (exited !== undefined) {
          limitReason = exited
          break
        }
        if (failed > 0) {
          limitReason = `connects failed at ${step} (${JSON.stringify({ ...connect.failures, ...connect.joinFailures })}${connect.signInFailures > 0 ? `, ${connect.signInFailures} sign-ins` : ''})`
          maxConnections = Math.max(maxConnections, held)
          break
        }
        maxConnections = Math.max(maxConnections, held)
      }

      session.status = 'memory: disconnecting everyone'
      await session.fleet.reset()
      const afterDisconnect = await sampleSettled(session, settleMs * 2)
      const cyclePoints: CyclePoint[] = []
      for (let cycle = 1; cycle <= cycles && session.target.exitedEarly() === undefined; cycle++) {
        session.status = `memory: cycle ${cycle}/${cycles}`
        const grown = await session.fleet.grow(cycleUsers, { roomSize, sendersPerRoom: 1 })
        await session.fleet.rate(1)
        await sleep(smoke ? 500 : 2000)
        await session.fleet.settle(smoke ? 300 : 500, 10_000)
        await session.fleet.reset()
        const after = await sampleSettled(session, settleMs)
        cyclePoints.push({ cycle, users: cycleUsers, connected: grown.connected, serverRssMiB: mib(after.rss), serverHeapMiB: heapMiB(after) })
        session.progress.log(`[memory · ${kind}] after cycle ${cycle} (${cycleUsers} users connected, chatted, left): RSS ${mib(after.rss)} MiB, heap ${heapMiB(after) ?? '?'} MiB`)
      }
      return {
        ...resultFields(session, drivers, session.target.exitedEarly()),
        points,
        idleRssMiB: mib(idle.rss),
        idleHeapMiB: heapMiB(idle),
        maxConnections,
        limitReason,
        afterDisconnectRssMiB: mib(afterDisconnect.rss),
        cycles: cyclePoints
      }
    })
    results.push(result)
  }

  return writeResults('memory', {
    smoke,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    notes: [
      `idle users: signed in, connected (websocket), joined to a room of ${roomSize}, silent; RSS and heap are sampled ${settleMs / 1000} s after each step`,
      'per-connection figures: (value at the step − value with no connection) / connections held; ours sums the primary and its workers (RSS from /proc, heap from its /metrics), the references are one process (heap from their /stats)',
      'no GC is forced in any server: heap figures are what V8 holds at that moment',
      `each cycle: ${cycleUsers} users connect and join, one per room sends 1 message a second for 2 s, then everyone disconnects`,
      'one process cannot hold more sockets than its open-files limit (this box: 20000); our server spreads connections over its worker processes'
    ],
    results
  }, resultsDir(args))
}

await runAsScript(import.meta.url, benchMemory)
