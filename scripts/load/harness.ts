import { join, resolve } from 'node:path'
import { Fleet, type FleetOptions, type FleetProgress, type WindowResult } from './fleet.js'
import { busySeconds, coresBetween, type TreeSample } from './proc.js'
import type { TargetResult } from './points.js'
import { Progress, round, type Args } from './report.js'
import { startTarget, TARGET_LABELS, type Target, type TargetKind, type TargetOptions } from './targets.js'

/**
 * What every benchmark does per server: start it, start a fleet of driver processes against
 * it, show a progress line, measure windows (driver numbers plus the server's CPU and memory
 * from outside), and stop everything afterwards, whatever happened.
 */

export interface Session {
  kind: TargetKind
  label: string
  target: Target
  fleet: Fleet
  progress: Progress
  /** What the progress line says before the numbers (benchmark, level). */
  status: string
  /** Windows disturbed by other processes are measured again, up to this many times in all. */
  attempts: number
}

export interface SessionOptions {
  benchmark: string
  target?: TargetOptions
  drivers: number
  fleet?: Omit<FleetOptions, 'url' | 'processes' | 'tag' | 'onProgress'>
  /** Smoke runs measure each window once and do not wait for a quiet machine. */
  smoke?: boolean
}

export interface MeasuredWindow extends WindowResult {
  /** Server CPU over the window, in cores, summed over its processes and threads. */
  serverCores: number
  serverRssBytes: number
  /** The whole box (every process, incl. other users of the machine), in cores. */
  machineCores: number
  /** How many times the window was measured (again when other processes disturbed it). */
  attempts: number
}

const compact = (value: number): string => value >= 10_000 ? `${round(value / 1000, 1)}k` : String(Math.round(value))

/**
 * A server's options from a benchmark's arguments: our settings plus `--env K=V,…`, and with
 * `--cpu-prof DIR` a CPU profile of every server process into DIR/<name>.
 */
export function serverOptions (args: Args, ourEnv: Record<string, string>, name: string): TargetOptions {
  const dir = args.optional('cpu-prof')
  return { ourEnv: { ...ourEnv, ...args.env() }, ...(dir === undefined ? {} : { cpuProfileDir: join(resolve(dir), name) }) }
}

/** With `--driver-prof DIR`, a CPU profile of every driver process into DIR/<name>. */
/** WORKERS for our server: `--workers N` when given, else the service's own default. */
export function workersEnv (args: Args): Record<string, string> {
  const workers = args.optional('workers')
  return workers === undefined ? {} : { WORKERS: workers }
}

export function driverOptions (args: Args, name: string): { cpuProfileDir?: string } {
  const dir = args.optional('driver-prof')
  return dir === undefined ? {} : { cpuProfileDir: join(resolve(dir), name) }
}

/** Machine CPU used by neither the server nor the driver, in cores. */
export const otherCores = (window: MeasuredWindow): number => Math.max(0, window.machineCores - window.serverCores - window.driverCores)

/** Other processes may use this much CPU during a window before it is measured again. */
const MAX_OTHER_CORES = 0.3
const QUIET_CORES = 0.3
const QUIET_WAIT_MS = 90_000

/** Waits (bounded) until the machine is idle, so a server does not start in another user's burst. */
async function waitForQuiet (progress: Progress): Promise<void> {
  const deadline = performance.now() + QUIET_WAIT_MS
  for (;;) {
    const before = busySeconds()
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const cores = (busySeconds() - before) / 2
    if (cores <= QUIET_CORES) return
    if (performance.now() > deadline) {
      progress.log(`the machine is still busy (${round(cores, 2)} cores used by others); starting anyway`)
      return
    }
    progress.line(`waiting for a quiet machine: ${round(cores, 2)} cores in use by other processes`)
  }
}

export async function withSession<T> (kind: TargetKind, options: SessionOptions, run: (session: Session) => Promise<T>): Promise<T> {
  const progress = new Progress()
  if (options.smoke !== true) await waitForQuiet(progress)
  const target = await startTarget(kind, options.target)
  progress.log(`[${options.benchmark} · ${kind}] server at ${target.url} (pid ${target.pid}), ${options.drivers} driver process${options.drivers === 1 ? '' : 'es'}`)
  let fleet: Fleet | undefined
  try {
    let previous: { fleet: FleetProgress, server: TreeSample } | undefined
    const session: Session = { kind, label: TARGET_LABELS[kind], target, fleet: undefined as unknown as Fleet, progress, status: options.benchmark, attempts: options.smoke === true ? 1 : 3 }
    fleet = await Fleet.start({
      url: target.url,
      processes: options.drivers,
      tag: `b${Date.now().toString(36)}${kind.slice(0, 1)}`,
      ...options.fleet,
      onProgress: (now) => {
        const server = target.meter.sample()
        if (previous !== undefined) {
          const seconds = (server.atMs - previous.server.atMs) / 1000
          const rate = (key: keyof FleetProgress): string => compact((now[key] - (previous as { fleet: FleetProgress }).fleet[key]) / seconds)
          progress.line(`[${session.status} · ${kind}] ${now.connected} connected | sent ${rate('sends')}/s ok ${rate('acksOk')}/s err ${rate('acksError')}/s unanswered ${now.unanswered} | recv ${rate('deliveries')}/s | ack p99 ${round(now.ackP99Ms, 1)} ms | drops ${now.drops} | server ${round(coresBetween(previous.server, server), 2)} cores, driver ${round((now.driverCpuS - previous.fleet.driverCpuS) / seconds, 2)} | server RSS ${Math.round(server.rssBytes / 2 ** 20)} MiB`)
        }
        previous = { fleet: now, server }
      }
    })
    session.fleet = fleet
    return await run(session)
  } finally {
    await fleet?.close().catch(() => {})
    await target.stop()
  }
}

/**
 * One measured window: the fleet's numbers plus the server's CPU and RSS over the same time. A
 * window in which other processes used more than MAX_OTHER_CORES is measured again (the load
 * goes on meanwhile), up to `session.attempts` times; the least disturbed one is kept.
 */
/** The fields every benchmark's result for one server shares (TargetResult without its points). */
export function resultFields (session: Session, drivers: number, stoppedEarly: string | undefined): Omit<TargetResult<never>, 'points'> {
  return {
    kind: session.kind,
    label: session.label,
    settings: session.target.settings,
    ...(session.target.source === undefined ? {} : { source: session.target.source }),
    driverProcesses: drivers,
    serverWarnings: session.target.warnings,
    ...(stoppedEarly === undefined ? {} : { stoppedEarly })
  }
}

export async function measure (session: Session, durationMs: number): Promise<MeasuredWindow> {
  let best: MeasuredWindow | undefined
  for (let attempt = 1; attempt <= session.attempts; attempt++) {
    const window = { ...await measureOnce(session, durationMs), attempts: attempt }
    if (best === undefined || otherCores(window) < otherCores(best)) best = { ...window }
    best.attempts = attempt
    if (otherCores(window) <= MAX_OTHER_CORES) break
    if (attempt < session.attempts) session.progress.log(`[${session.status} · ${session.kind}] other processes used ${round(otherCores(window), 2)} cores during the window; measuring it again`)
  }
  return best as MeasuredWindow
}

async function measureOnce (session: Session, durationMs: number): Promise<Omit<MeasuredWindow, 'attempts'>> {
  const before = session.target.meter.sample()
  const busyBefore = busySeconds()
  const startedAt = performance.now()
  const windowPromise = session.fleet.window(durationMs)
  // Sample the server when the window's sending ends, not after the acks of its last sends.
  await new Promise((resolve) => setTimeout(resolve, durationMs))
  const after = session.target.meter.sample()
  const busyAfter = busySeconds()
  const seconds = (performance.now() - startedAt) / 1000
  const window = await windowPromise
  return { ...window, serverCores: coresBetween(before, after), serverRssBytes: after.rssBytes, machineCores: (busyAfter - busyBefore) / seconds }
}
