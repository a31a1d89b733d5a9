import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FloodPoint } from './bench-flood.js'
import type { LoadTargetResult } from './bench-load.js'
import type { MemoryTargetResult } from './bench-memory.js'
import type { ReconnectPoint } from './bench-reconnect.js'
import { SATURATION_P99_MS, type ScaleConfigResult } from './bench-scale.js'
import { barPanelSpec, CONFIG_COLORS, renderChart, SEED_SERIES, type Row } from './load/charts.js'
import type { TargetResult } from './load/points.js'
import { Args, RESULTS_DIR, round, type ResultFile } from './load/report.js'
import { loadSeed, seedPoints, type SeedChart } from './load/seed.js'
import { ROOT } from './load/targets.js'

/**
 * Turns the result files in docs/benchmarks/ into one SVG chart per seed chart (plus one for
 * throughput) and refreshes the generated tables of docs/benchmarks.md: each sits between
 * `<!-- table:NAME -->` and `<!-- /table:NAME -->`, so the prose around them is kept.
 *
 *   node dist/scripts/bench-report.js [--dir docs/benchmarks] [--doc docs/benchmarks.md]
 */

const SERIES_OF: Record<string, string> = { ours: 'ours', plain: 'plain Socket.IO', raw: 'raw ws' }
const SERIES = ['ours', 'plain Socket.IO', 'raw ws', SEED_SERIES]

function read<T> (dir: string, name: string): ResultFile<T> | undefined {
  const path = join(dir, `${name}.json`)
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as ResultFile<T> : undefined
}

function rowsOf<P> (results: Array<TargetResult<P>>, x: (point: P) => number, y: (point: P) => number): Row[] {
  return results.flatMap((result) => {
    const series = SERIES_OF[result.kind]
    return series === undefined ? [] : result.points.map((point) => ({ series, x: x(point), y: y(point) }))
  })
}

function seedRows (seed: Record<string, SeedChart>, title: string, label: string): Row[] {
  return seedPoints(seed, title, label).map((point) => ({ series: SEED_SERIES, ...point }))
}

const subtitleOf = (file: ResultFile<unknown>): string =>
  `${file.date.slice(0, 10)} · ${file.machine.cpus} cores (${file.machine.cpuModel}), driver on the same box · shared, noisy machine${file.smoke ? ' · SMOKE RUN (tiny levels)' : ''}`

/** A figure for a table: three significant digits, whole numbers from 1000 on. */
function fmt (value: number): string {
  if (!Number.isFinite(value)) return '–'
  if (Math.abs(value) >= 1000 || Number.isInteger(value)) return String(Math.round(value))
  return String(Number(value.toPrecision(3)))
}

/** Share of the scheduled sends the driver made on time (the rest it dropped, being short of CPU itself). */
const keptUp = (point: { sends: number, pushbackSkips: number, lagSkips: number }): string => {
  const scheduled = point.sends + point.pushbackSkips + point.lagSkips
  return scheduled === 0 ? '–' : `${fmt((100 * (point.sends + point.pushbackSkips)) / scheduled)} %`
}

/** Three values side by side (ours / plain / raw) for one level, '–' where a target has none. */
function trio<P> (results: Array<TargetResult<P>>, find: (point: P) => boolean, value: (point: P) => string | number): string {
  return ['ours', 'plain', 'raw'].map((kind) => {
    const point = results.find((result) => result.kind === kind)?.points.find(find)
    if (point === undefined) return '–'
    const shown = value(point)
    return typeof shown === 'number' ? fmt(shown) : shown
  }).join(' / ')
}

function levelsOf<P> (results: Array<TargetResult<P>>, x: (point: P) => number): number[] {
  return [...new Set(results.flatMap((result) => result.points.map(x)))].sort((a, b) => a - b)
}

function table (header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

function seedAt (seed: Record<string, SeedChart>, title: string, label: string, x: number): string {
  const point = seedPoints(seed, title, label).find((item) => item.x === x)
  return point === undefined ? '' : String(point.y)
}

const codes = (counts: Record<string, number>): string => {
  const entries = Object.entries(counts)
  return entries.length === 0 ? '0' : entries.map(([code, n]) => `${code} ${n}`).join(', ')
}

function sourceText (file: ResultFile<unknown>, results: Array<TargetResult<unknown>>): string {
  // Ours records the source it started from; older files only the source at the end of the run.
  const source = results.find((result) => result.source !== undefined)?.source ?? file.source as ResultFile<unknown>['source'] | undefined
  if (source === undefined) return 'server source not recorded'
  const changes = source.uncommittedServerChanges
  return `server at commit ${source.commit}${changes.length === 0 ? '' : ` with uncommitted changes to ${changes.join(', ')}`}`
}

const runLine = (file: ResultFile<unknown>, results: Array<TargetResult<unknown>>): string =>
  `Run: ${file.date.slice(0, 16).replace('T', ' ')} UTC · \`${file.command}\` · ${Math.round(file.wallSeconds / 6) / 10} min · ${sourceText(file, results)} · ${results[0]?.driverProcesses ?? '?'} driver processes · CPU pressure (some, 60 s avg) at the end ${file.machine.cpuPressureSome60s ?? '?'} %${file.smoke ? ' · **smoke run**' : ''}`

async function loadReport (dir: string, seed: Record<string, SeedChart>): Promise<Record<string, string>> {
  const file = read<LoadTargetResult[]>(dir, 'load')
  if (file === undefined) return {}
  const results = file.results
  const failures = [...rowsOf(results, (p) => p.users, (p) => p.failurePct), ...seedRows(seed, 'Load Test Performance', 'Failure Rate (%)')]
  const svg = await renderChart('Load: virtual users sending 1 message a second into rooms of 20', subtitleOf(file), [
    { title: 'Ack round trip p99 (ms) · seed: response time', xTitle: 'virtual users', yTitle: 'ms (log)', xLog: true, yLog: true, rows: [...rowsOf(results, (p) => p.users, (p) => p.ack.p99Ms), ...seedRows(seed, 'Load Test Performance', 'Response Time (ms)')] },
    { title: 'Failure rate (%)', xTitle: 'virtual users', yTitle: '%', xLog: true, yDomain: [0, Math.max(10, Math.ceil(Math.max(...failures.map((row) => row.y))))], rows: failures },
    { title: 'Send → receive (fan-out) p99 (ms)', xTitle: 'virtual users', yTitle: 'ms (log)', xLog: true, yLog: true, rows: rowsOf(results, (p) => p.users, (p) => p.fanout.p99Ms) }
  ], SERIES)
  writeFileSync(join(dir, 'load.svg'), svg)
  const rows = levelsOf(results, (p) => p.users).map((users) => {
    const at = (p: { users: number }): boolean => p.users === users
    return [
      String(users),
      [seedAt(seed, 'Load Test Performance', 'Response Time (ms)', users), seedAt(seed, 'Load Test Performance', 'Failure Rate (%)', users)].filter((v) => v !== '').join(' ms / ') + (seedAt(seed, 'Load Test Performance', 'Failure Rate (%)', users) === '' ? '' : ' %'),
      trio(results, at, (p) => p.ack.p50Ms),
      trio(results, at, (p) => p.ack.p99Ms),
      trio(results, at, (p) => p.failurePct),
      trio(results, at, (p) => p.fanout.p99Ms),
      trio(results, at, (p) => p.deliveriesPerS),
      trio(results, at, keptUp),
      trio(results, at, (p) => p.serverCores),
      trio(results, at, (p) => `${fmt(p.driverCores)}+${fmt(p.otherCores)}`)
    ]
  })
  const delivery = results.map((result) => `${result.label}: ${result.delivery.deliveryPct} % delivered (${result.delivery.delivered} of ${result.delivery.expected}), silently lost ${result.delivery.silentlyLost}, order violations ${result.delivery.orderViolations}${result.stoppedEarly === undefined ? '' : `; stopped early: ${result.stoppedEarly}`}`)
  return {
    'load-run': runLine(file, results),
    load: `${table(['VUs', 'seed (response / failure)', 'ack p50 ms (ours / plain / raw)', 'ack p99 ms', 'failure %', 'fan-out p99 ms', 'deliveries/s', 'driver kept up (sends made on time)', 'server cores', 'driver + other cores'], rows)}\n\nWhole run, every acked message checked at every member: ${delivery.map((line) => `\n- ${line}`).join('')}`
  }
}

async function floodReport (dir: string, seed: Record<string, SeedChart>): Promise<Record<string, string>> {
  const file = read<Array<TargetResult<FloodPoint>>>(dir, 'flood')
  if (file === undefined) return {}
  const results = file.results
  const svg = await renderChart('Message flood: every user sends 10 messages a second into its room of 20', subtitleOf(file), [
    { title: 'Delivery of acked messages (%)', xTitle: 'virtual users', yTitle: '%', xLog: true, yDomain: [0, 100], rows: [...rowsOf(results, (p) => p.users, (p) => p.delivery.deliveryPct), ...seedRows(seed, 'WebSocket Message Flood Test', 'Message Delivery (%)')] },
    { title: 'Connection stability (%)', xTitle: 'virtual users', yTitle: '%', xLog: true, yDomain: [0, 100], rows: [...rowsOf(results, (p) => p.users, (p) => p.stabilityPct), ...seedRows(seed, 'WebSocket Message Flood Test', 'Connection Stability (%)')] },
    { title: 'Ack round trip p99 (ms), admitted sends', xTitle: 'virtual users', yTitle: 'ms (log)', xLog: true, yLog: true, rows: rowsOf(results, (p) => p.users, (p) => p.ack.p99Ms), rule: { y: 1000, label: 'target past saturation: 1 s' } }
  ], SERIES)
  writeFileSync(join(dir, 'flood.svg'), svg)
  const rows = levelsOf(results, (p) => p.users).map((users) => {
    const at = (p: { users: number }): boolean => p.users === users
    const seedDelivery = seedAt(seed, 'WebSocket Message Flood Test', 'Message Delivery (%)', users)
    return [
      String(users),
      seedDelivery === '' ? '' : `${seedDelivery} / ${seedAt(seed, 'WebSocket Message Flood Test', 'Connection Stability (%)', users)} %`,
      trio(results, at, (p) => p.delivery.deliveryPct),
      trio(results, at, (p) => p.delivery.silentlyLost),
      trio(results, at, (p) => codes(p.acksError)),
      trio(results, at, (p) => p.stabilityPct),
      trio(results, at, (p) => p.ack.p99Ms),
      trio(results, at, (p) => p.deliveriesPerS),
      trio(results, at, keptUp),
      trio(results, at, (p) => p.serverCores),
      trio(results, at, (p) => `${fmt(p.driverCores)}+${fmt(p.otherCores)}`)
    ]
  })
  const stopped = results.filter((result) => result.stoppedEarly !== undefined).map((result) => `\n- ${result.label} stopped early: ${result.stoppedEarly as string}`).join('')
  return {
    'flood-run': runLine(file, results),
    flood: `${table(['VUs', 'seed (delivery / stability)', 'delivery % (ours / plain / raw)', 'silently lost', 'error acks', 'stability %', 'ack p99 ms', 'deliveries/s', 'driver kept up (sends made on time)', 'server cores', 'driver + other cores'], rows)}${stopped}`
  }
}

async function reconnectReport (dir: string, seed: Record<string, SeedChart>): Promise<Record<string, string>> {
  const file = read<Array<TargetResult<ReconnectPoint>>>(dir, 'reconnect')
  if (file === undefined) return {}
  const results = file.results
  const svg = await renderChart('Reconnect: N clients of busy rooms lose their connection at once and rejoin with since', subtitleOf(file), [
    { title: 'Rejoined within 10 s (%)', xTitle: 'simultaneous reconnects', yTitle: '%', xLog: true, yDomain: [0, 100], rows: [...rowsOf(results, (p) => p.simultaneous, (p) => p.successPct), ...seedRows(seed, 'WebSocket Reconnect Test', 'Reconnect Success (%)')] },
    { title: 'Cut → rejoined p99 (ms) · seed: reconnect time', xTitle: 'simultaneous reconnects', yTitle: 'ms (log)', xLog: true, yLog: true, rows: [...rowsOf(results, (p) => p.simultaneous, (p) => p.time.p99Ms), ...seedRows(seed, 'WebSocket Reconnect Test', 'Reconnect Time (ms)')] },
    { title: 'Cut → rejoined p50 (ms)', xTitle: 'simultaneous reconnects', yTitle: 'ms (log)', xLog: true, yLog: true, rows: rowsOf(results, (p) => p.simultaneous, (p) => p.time.p50Ms) }
  ], SERIES)
  writeFileSync(join(dir, 'reconnect.svg'), svg)
  const rows = levelsOf(results, (p) => p.simultaneous).map((level) => {
    const at = (p: { simultaneous: number }): boolean => p.simultaneous === level
    const seedSuccess = seedAt(seed, 'WebSocket Reconnect Test', 'Reconnect Success (%)', level)
    return [
      String(level),
      seedSuccess === '' ? '' : `${seedSuccess} % / ${seedAt(seed, 'WebSocket Reconnect Test', 'Reconnect Time (ms)', level)} ms`,
      trio(results, at, (p) => p.rounds),
      trio(results, at, (p) => p.successPct),
      trio(results, at, (p) => p.time.p50Ms),
      trio(results, at, (p) => p.time.p99Ms),
      trio(results, at, (p) => p.time.maxMs),
      trio(results, at, (p) => p.missed),
      trio(results, at, (p) => p.owedToDisconnected ?? '–'),
      trio(results, at, (p) => codes(p.retries)),
      trio(results, at, (p) => p.recovered)
    ]
  })
  return {
    'reconnect-run': runLine(file, results),
    reconnect: table(['at once', 'seed (success / time)', 'rounds', 'rejoined % (ours / plain / raw)', 'p50 ms', 'p99 ms', 'max ms', 'missed by rejoined clients', 'owed to clients not yet rejoined', 'told to retry', 'recovered via since'], rows)
  }
}

async function memoryReport (dir: string, seed: Record<string, SeedChart>): Promise<Record<string, string>> {
  const file = read<MemoryTargetResult[]>(dir, 'memory')
  if (file === undefined) return {}
  const results = file.results
  const severity = seed['Performance Issue Severity']
  const severityText = severity === undefined ? [] : [`the seed's severity (of 10): ${severity.labels.map((label, i) => `${String(label)} ${severity.series[0]?.data[i] ?? '?'}`).join(', ')}`]
  const cycleRows: Row[] = results.flatMap((result) => {
    const series = SERIES_OF[result.kind]
    if (series === undefined) return []
    return [{ series, x: 0, y: result.afterDisconnectRssMiB }, ...result.cycles.map((cycle) => ({ series, x: cycle.cycle, y: cycle.serverRssMiB }))]
  })
  const svg = await renderChart('Connections and memory (the seed\'s top two severities)', [subtitleOf(file), ...severityText], [
    { title: 'Server RSS per idle connection (KB)', xTitle: 'idle connections (joined, silent)', yTitle: 'KB (RSS above idle ÷ connections)', xLog: true, rows: rowsOf(results, (p) => p.connections, (p) => p.rssPerConnectionKB), rule: { y: 10, label: 'target: ≤ 10 KB' } },
    barPanelSpec({ title: 'Most concurrent connections held', xTitle: '', yTitle: 'connections', rows: results.map((result) => ({ series: SERIES_OF[result.kind] ?? result.kind, x: 0, y: result.maxConnections })), rule: { y: 500, label: 'seed\'s goal: 500+ users' } }, SERIES.slice(0, 3)),
    { title: 'Server RSS after connect/disconnect cycles (MiB)', xTitle: 'cycle (0 = after the ramp\'s users left)', yTitle: 'MiB', xIntegers: true, rows: cycleRows }
  ], SERIES.slice(0, 3))
  writeFileSync(join(dir, 'memory.svg'), svg)
  const at = (result: MemoryTargetResult, connections: number): string => {
    const point = result.points.reduce<MemoryTargetResult['points'][number] | undefined>((best, p) => best === undefined || Math.abs(p.connections - connections) < Math.abs(best.connections - connections) ? p : best, undefined)
    return point === undefined ? '–' : `${point.rssPerConnectionKB} KB RSS (${point.marginalRssPerConnectionKB} KB marginal), ${point.heapPerConnectionKB ?? '?'} KB heap, at ${point.connections}`
  }
  const rows = results.map((result) => [
    result.label,
    `${result.idleRssMiB} MiB`,
    at(result, 1000),
    at(result, 10_000),
    at(result, result.maxConnections),
    String(result.maxConnections),
    result.limitReason,
    `${result.afterDisconnectRssMiB} MiB`,
    result.cycles.map((cycle) => cycle.serverRssMiB).join(' → ') + ' MiB'
  ])
  return {
    'memory-run': runLine(file, results),
    memory: table(['server', 'RSS, no connection', 'per idle connection ~1k', '~10k', 'at the most held', 'most held', 'what stopped the ramp', 'RSS after all left', 'RSS after each cycle'], rows)
  }
}

async function scaleReport (dir: string, equalRate: number): Promise<Record<string, string>> {
  const file = read<ScaleConfigResult[]>(dir, 'scale')
  if (file === undefined) return {}
  const results = file.results
  const series = results.map((result) => result.label)
  const colors = Object.fromEntries(results.map((result) => [result.label, CONFIG_COLORS[result.config] ?? '#333333']))
  const rows = (value: (point: ScaleConfigResult['points'][number]) => number): Row[] => results.flatMap((result) => result.points.map((point) => ({ series: result.label, x: point.offeredDeliveriesPerS, y: value(point) })))
  const svg = await renderChart('Throughput: 1000 users in rooms of 20, per-user rate climbing', subtitleOf(file), [
    { title: 'Deliveries per second achieved', xTitle: 'offered deliveries/s', yTitle: 'deliveries/s', rows: rows((p) => p.deliveriesPerS) },
    { title: 'Ack round trip p99 (ms)', xTitle: 'offered deliveries/s', yTitle: 'ms (log)', yLog: true, rows: rows((p) => p.ack.p99Ms), rule: { y: SATURATION_P99_MS, label: `${SATURATION_P99_MS} ms` } },
    { title: 'Server CPU per delivery (µs)', xTitle: 'offered deliveries/s', yTitle: 'µs', rows: rows((p) => p.serverCpuUsPerDelivery) }
  ], series, colors)
  writeFileSync(join(dir, 'scale.svg'), svg)
  const sustained = (point: ScaleConfigResult['points'][number]): boolean => point.ack.p99Ms <= SATURATION_P99_MS && point.failurePct < 1
  const reference = results.find((result) => result.config === 'raw')?.saturationDeliveriesPerS ?? 0
  const tableRows = results.map((result) => {
    const equal = result.points.find((point) => point.ratePerUser === equalRate)
    const best = result.points.filter(sustained).sort((a, b) => b.deliveriesPerS - a.deliveriesPerS)[0]
    return [
      result.label,
      best === undefined ? 'none within the bound' : String(result.saturationDeliveriesPerS),
      reference === 0 || best === undefined ? '–' : `${round(result.saturationDeliveriesPerS / reference, 2)}×`,
      best === undefined ? '–' : `${best.ack.p50Ms} / ${best.ack.p99Ms}`,
      best === undefined ? '–' : `${best.serverCores} / ${best.driverCores} / ${best.otherCores}`,
      String(result.peakDeliveriesPerS),
      equal === undefined ? '–' : `${equal.serverCpuUsPerDelivery} µs (${equal.serverCores} cores, ack p99 ${equal.ack.p99Ms} ms)`,
      result.delivery === undefined ? '–' : `${result.delivery.deliveryPct} % / ${result.delivery.unanswered} / ${result.delivery.silentlyLost - result.delivery.unanswered}`,
      result.stoppedEarly ?? 'climbed every step'
    ]
  })
  return {
    'scale-run': runLine(file, results),
    scale: table(['server', `deliveries/s at ack p99 ≤ ${SATURATION_P99_MS} ms`, 'vs raw ws (batched)', 'ack p50 / p99 ms there', 'cores there: server / driver / other', 'peak deliveries/s', `server CPU per delivery at equal load (every user ${equalRate} messages/s)`, 'whole climb: delivered / sends never answered in 5 s / acked but missing', 'where it stopped'], tableRows)
  }
}

/** One row per target of the issue: what each server reached and whether ours met it. */
function targetsReport (dir: string): Record<string, string> {
  const load = read<LoadTargetResult[]>(dir, 'load')?.results ?? []
  const flood = read<Array<TargetResult<FloodPoint>>>(dir, 'flood')?.results ?? []
  const reconnect = read<Array<TargetResult<ReconnectPoint>>>(dir, 'reconnect')?.results ?? []
  const memory = read<MemoryTargetResult[]>(dir, 'memory')?.results ?? []
  const scale = read<ScaleConfigResult[]>(dir, 'scale')?.results ?? []
  const rows: string[][] = []
  const kinds = ['ours', 'plain', 'raw'] as const
  const per = <R extends { kind: string }>(results: R[], value: (result: R) => string): string[] =>
    kinds.map((kind) => {
      const result = results.find((item) => item.kind === kind)
      return result === undefined ? '–' : value(result)
    })
  const verdict = (met: boolean | undefined, how: string): string => met === undefined ? 'not measured' : `${met ? '**met**' : '**missed**'}${how === '' ? '' : `: ${how}`}`
  const seedLoad = (result: LoadTargetResult): LoadTargetResult['points'] => result.points.filter((p) => p.users <= 1000)
  const seedFlood = (result: TargetResult<FloodPoint>): FloodPoint[] => result.points.filter((p) => p.users <= 500)
  const seedReconnect = (result: TargetResult<ReconnectPoint>): ReconnectPoint[] => result.points.filter((p) => p.simultaneous <= 10)
  const oursLoad = load.find((r) => r.kind === 'ours')
  const plainLoad = load.find((r) => r.kind === 'plain')
  const oursFlood = flood.find((r) => r.kind === 'ours')
  const plainFlood = flood.find((r) => r.kind === 'plain')
  const oursReconnect = reconnect.find((r) => r.kind === 'ours')
  const oursMemory = memory.find((r) => r.kind === 'ours')
  const at = <P>(result: TargetResult<P> | undefined, find: (p: P) => boolean): P | undefined => result?.points.find(find)

  if (load.length > 0) {
    const worst = (result: LoadTargetResult): number => Math.max(...seedLoad(result).map((p) => p.failurePct))
    rows.push(['load 10–1000 VUs (seed levels): failures', ...per(load, (r) => `${fmt(worst(r))} % at worst`), verdict(oursLoad === undefined ? undefined : worst(oursLoad) === 0, '')])
    const slower = oursLoad === undefined || plainLoad === undefined ? [] : seedLoad(oursLoad).filter((p) => p.ack.p99Ms > (at(plainLoad, (q) => q.users === p.users)?.ack.p99Ms ?? Infinity))
    rows.push(['load, seed levels: ack p99 no worse than plain Socket.IO', ...per(load, (r) => `${fmt(Math.min(...seedLoad(r).map((p) => p.ack.p99Ms)))}–${fmt(Math.max(...seedLoad(r).map((p) => p.ack.p99Ms)))} ms`), verdict(oursLoad === undefined || plainLoad === undefined ? undefined : slower.length === 0, slower.length === 0 ? '' : `worse at ${slower.length} of ${seedLoad(oursLoad as LoadTargetResult).length} levels`)])
    for (const [users, boundMs] of [[1000, 10], [5000, 100]] as const) {
      const point = at(oursLoad, (p) => p.users === users)
      rows.push([`load ${users} VUs: ack p99 ≤ ${boundMs} ms`, ...per(load, (r) => { const p = at(r, (q) => q.users === users); return p === undefined ? '–' : `${fmt(p.ack.p99Ms)} ms` }), verdict(point === undefined ? (oursLoad === undefined ? undefined : false) : point.ack.p99Ms <= boundMs, point === undefined ? 'level not reached' : `${fmt(point.ack.p99Ms / boundMs)}× the bound`)])
    }
    const tenK = at(oursLoad, (p) => p.users === 10_000)
    rows.push(['load 10,000 VUs held with 0 % failures', ...per(load, (r) => { const p = at(r, (q) => q.users === 10_000); return p === undefined ? `not reached${r.stoppedEarly === undefined ? '' : ` (${r.stoppedEarly.split(' (')[0] ?? ''})`}` : `${fmt(p.failurePct)} % failures` }), verdict(oursLoad === undefined ? undefined : tenK !== undefined && tenK.failurePct === 0, '')])
  }
  if (flood.length > 0) {
    const lost = (result: TargetResult<FloodPoint>): number => seedFlood(result).reduce((n, p) => n + p.delivery.silentlyLost, 0)
    const minDelivery = (result: TargetResult<FloodPoint>): number => Math.min(...seedFlood(result).map((p) => p.delivery.deliveryPct))
    rows.push(['flood 10–500 VUs (seed levels): 100 % delivery, 0 silently lost', ...per(flood, (r) => `${fmt(minDelivery(r))} % at worst, ${lost(r)} lost`), verdict(oursFlood === undefined ? undefined : minDelivery(oursFlood) === 100 && lost(oursFlood) === 0, '')])
    const slower = oursFlood === undefined || plainFlood === undefined ? [] : seedFlood(oursFlood).filter((p) => p.ack.p99Ms > (at(plainFlood, (q) => q.users === p.users)?.ack.p99Ms ?? Infinity))
    rows.push(['flood, seed levels: ack p99 no worse than plain Socket.IO', ...per(flood, (r) => `${fmt(Math.min(...seedFlood(r).map((p) => p.ack.p99Ms)))}–${fmt(Math.max(...seedFlood(r).map((p) => p.ack.p99Ms)))} ms`), verdict(oursFlood === undefined || plainFlood === undefined ? undefined : slower.length === 0, slower.length === 0 ? '' : `worse at ${slower.length} of ${seedFlood(oursFlood as TargetResult<FloodPoint>).length} levels`)])
    const peak = (result: TargetResult<FloodPoint>): number => Math.max(...result.points.map((p) => p.deliveriesPerS))
    rows.push(['flood: deliveries/s at saturation at least plain Socket.IO\'s (peak over the levels)', ...per(flood, (r) => fmt(peak(r))), verdict(oursFlood === undefined || plainFlood === undefined ? undefined : peak(oursFlood) >= peak(plainFlood), oursFlood === undefined || plainFlood === undefined ? '' : `${fmt(peak(oursFlood) / peak(plainFlood))}× plain`)])
    const past = (result: TargetResult<FloodPoint>): FloodPoint[] => result.points.filter((p) => sumErrors(p.acksError) > 0 || p.unanswered > 0)
    rows.push(['flood past saturation: admitted ack p99 ≤ 1 s, excess told, nothing silently lost', ...per(flood, (r) => { const points = past(r); return points.length === 0 ? 'never saturated' : `p99 ${fmt(Math.min(...points.map((p) => p.ack.p99Ms)))}–${fmt(Math.max(...points.map((p) => p.ack.p99Ms)))} ms, told ${points.reduce((n, p) => n + sumErrors(p.acksError), 0)}, unanswered in 5 s ${points.reduce((n, p) => n + p.unanswered, 0)}` }), verdict(oursFlood === undefined ? undefined : past(oursFlood).every((p) => p.ack.p99Ms <= 1000 && p.delivery.silentlyLost === 0), '')])
  }
  if (reconnect.length > 0) {
    const worst = (result: TargetResult<ReconnectPoint>): number => Math.min(...seedReconnect(result).map((p) => p.successPct))
    rows.push(['reconnect 1–10 at once (seed levels): 100 % rejoined, 0 missed', ...per(reconnect, (r) => `${fmt(worst(r))} % at worst, ${seedReconnect(r).reduce((n, p) => n + p.missed, 0)} missed`), verdict(oursReconnect === undefined ? undefined : worst(oursReconnect) === 100 && seedReconnect(oursReconnect).every((p) => p.missed === 0), '')])
    const k1 = at(oursReconnect, (p) => p.simultaneous === 1000)
    rows.push(['reconnect 1000 at once: 100 %, p99 ≤ 500 ms', ...per(reconnect, (r) => { const p = at(r, (q) => q.simultaneous === 1000); return p === undefined ? '–' : `${fmt(p.successPct)} %, p99 ${fmt(p.time.p99Ms)} ms` }), verdict(k1 === undefined ? undefined : k1.successPct === 100 && k1.time.p99Ms <= 500, k1 === undefined ? '' : `p99 ${fmt(k1.time.p99Ms / 500)}× the bound`)])
    const k5 = at(oursReconnect, (p) => p.simultaneous === 5000)
    rows.push(['reconnect 5000 at once: 100 % within 10 s, 0 missed', ...per(reconnect, (r) => { const p = at(r, (q) => q.simultaneous === 5000); return p === undefined ? '–' : `${fmt(p.successPct)} %, ${p.missed} missed` }), verdict(k5 === undefined ? undefined : k5.successPct === 100 && k5.missed === 0, '')])
  }
  if (memory.length > 0) {
    const near = (result: MemoryTargetResult, connections: number): MemoryTargetResult['points'][number] | undefined =>
      result.points.reduce<MemoryTargetResult['points'][number] | undefined>((best, p) => best === undefined || Math.abs(p.connections - connections) < Math.abs(best.connections - connections) ? p : best, undefined)
    const ten = oursMemory === undefined ? undefined : near(oursMemory, 10_000)
    rows.push(['≤ 10 KB server RSS per idle connection (at 10k)', ...per(memory, (r) => { const p = near(r, 10_000); return p === undefined ? '–' : `${fmt(p.rssPerConnectionKB)} KB` }), verdict(ten === undefined ? undefined : ten.rssPerConnectionKB <= 10, ten === undefined ? '' : `${fmt(ten.rssPerConnectionKB / 10)}× the bound`)])
    rows.push(['≥ 30k concurrent connections', ...per(memory, (r) => fmt(r.maxConnections)), verdict(oursMemory === undefined ? undefined : oursMemory.maxConnections >= 30_000, '')])
  }
  if (scale.length > 0) {
    const raw = scale.find((r) => r.config === 'raw')?.saturationDeliveriesPerS ?? 0
    const best = scale.filter((r) => r.kind === 'ours').sort((a, b) => b.saturationDeliveriesPerS - a.saturationDeliveriesPerS)[0]
    const plain = scale.find((r) => r.config === 'plain')?.saturationDeliveriesPerS ?? 0
    const plainWs = scale.find((r) => r.config === 'raw-unbatched')?.saturationDeliveriesPerS ?? 0
    rows.push(['≥ 0.75× the batching ws server\'s deliveries/s at ack p99 ≤ 250 ms', best === undefined ? '–' : `${fmt(best.saturationDeliveriesPerS)} (${best.label})`, fmt(plain), fmt(raw), verdict(best === undefined || raw === 0 ? undefined : best.saturationDeliveriesPerS >= 0.75 * raw, best === undefined || raw === 0 ? '' : `${fmt(best.saturationDeliveriesPerS / raw)}× raw ws`)])
    const peakOf = (config: string): number => scale.find((r) => r.config === config)?.peakDeliveriesPerS ?? 0
    const bestPeak = Math.max(0, ...scale.filter((r) => r.kind === 'ours').map((r) => r.peakDeliveriesPerS))
    rows.push(['the same by peak deliveries/s (whatever the latency)', fmt(bestPeak), fmt(peakOf('plain')), fmt(peakOf('raw')), peakOf('raw') === 0 ? '–' : `${fmt(bestPeak / peakOf('raw'))}× raw ws`])
    if (plainWs > 0) rows.push(['references: plain Socket.IO ≈ 0.87× a plain ws server, batching ws ≥ 1.5× it (at p99 ≤ 250 ms; by peak)', '', `${fmt(plain / plainWs)}×; ${fmt(peakOf('plain') / peakOf('raw-unbatched'))}×`, `${fmt(raw / plainWs)}×; ${fmt(peakOf('raw') / peakOf('raw-unbatched'))}×`, 'the references, not ours'])
    const equal = (config: string): number | undefined => scale.find((r) => r.config === config)?.points.find((p) => p.ratePerUser === 2)?.serverCpuUsPerDelivery
    const oursEqual = equal('ours-w2') ?? equal('ours-w1')
    rows.push(['server CPU per delivery at equal load (40k deliveries/s)', oursEqual === undefined ? '–' : `${fmt(oursEqual)} µs (2 workers)`, `${fmt(equal('plain') ?? Number.NaN)} µs`, `${fmt(equal('raw') ?? Number.NaN)} µs`, 'reported (no bound set)'])
  }
  return rows.length === 0 ? {} : { targets: table(['target (issue 4)', 'ours', 'plain Socket.IO', 'raw ws', 'ours'], rows) }
}

function sumErrors (counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

/** Replaces every `<!-- table:NAME -->…<!-- /table:NAME -->` block whose NAME has new text. */
export function fillTables (doc: string, tables: Record<string, string>): string {
  let text = doc
  for (const [name, body] of Object.entries(tables)) {
    const pattern = new RegExp(`(<!-- table:${name} -->)[\\s\\S]*?(<!-- /table:${name} -->)`)
    text = text.replace(pattern, (_all, open: string, close: string) => `${open}\n${body}\n${close}`)
  }
  return text
}

export async function benchReport (args: Args): Promise<string[]> {
  const dir = args.string('dir', RESULTS_DIR)
  const docPath = args.string('doc', join(ROOT, 'docs', 'benchmarks.md'))
  const seed = loadSeed()
  const tables = {
    ...await loadReport(dir, seed),
    ...await floodReport(dir, seed),
    ...await reconnectReport(dir, seed),
    ...await memoryReport(dir, seed),
    ...await scaleReport(dir, args.number('equal-rate', 2)),
    ...targetsReport(dir)
  }
  if (existsSync(docPath) && !args.flag('no-doc')) writeFileSync(docPath, fillTables(readFileSync(docPath, 'utf8'), tables))
  return Object.keys(tables)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const written = await benchReport(new Args())
  process.stderr.write(`charts and tables: ${written.join(', ')}\n`)
}
