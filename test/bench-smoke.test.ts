import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { MemberRecord, RoomLedger, account } from '../scripts/load/ledger.js'
import { ROOT } from './helpers/cluster.js'

/**
 * Every benchmark script runs at tiny levels for a few seconds against all of its servers and
 * must write well-formed results in which nothing was silently lost; the report then renders
 * every chart from them. Behaviour only: no timing is asserted (timings live in the results).
 */

interface ResultFile {
  benchmark: string
  smoke: boolean
  machine: { cpus: number }
  results: Array<Record<string, any>>
}

// Five scripts, each starting three servers in turn: about 20 s a script on a quiet 2-core box.
t.setTimeout(600_000)

const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'))
t.teardown(() => rmSync(out, { recursive: true, force: true }))

/** Runs a compiled script to completion (the script kills every process it started). */
async function runScript (name: string, args: string[]): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'scripts', `${name}.js`), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  const stderr: string[] = []
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stderr: stderr.join('').slice(-2000) }
}

/** Runs one benchmark at its smoke levels and reads the result file it wrote (undefined if none). */
async function smokeRun (name: string, args: string[]): Promise<{ code: number | null, stderr: string, file: ResultFile | undefined }> {
  const { code, stderr } = await runScript(`bench-${name}`, ['--smoke', '--out', out, ...args])
  const path = join(out, `${name}.json`)
  return { code, stderr, file: existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as ResultFile : undefined }
}

const ALL_TARGETS = ['--targets', 'ours,plain,raw']

t.test('load: every level measured, every acked message delivered to every member', async (t) => {
  const { code, stderr, file } = await smokeRun('load', ALL_TARGETS)
  t.equal(code, 0, 'exits 0', { stderr })
  if (file === undefined) {
    t.fail('no result file')
    return
  }
  t.match(file, { benchmark: 'load', smoke: true, machine: { cpus: Number } }, 'well-formed result file')
  t.same(file.results.map((result) => result.kind), ['ours', 'plain', 'raw'])
  for (const result of file.results) {
    t.same(result.points.map((point: { users: number }) => point.users), [10, 30], `${result.kind}: both levels`)
    for (const point of result.points) {
      t.equal(point.connect.connected, point.connect.attempted, `${result.kind} ${point.users}: every user connected`)
      t.ok(point.acksOk > 0 && point.ack.count === point.acksOk, `${result.kind} ${point.users}: acks measured`)
      t.ok(point.fanout.count > 0, `${result.kind} ${point.users}: deliveries measured`)
    }
    t.equal(result.delivery.silentlyLost, 0, `${result.kind}: nothing silently lost`)
    t.equal(result.delivery.orderViolations, 0, `${result.kind}: in order, no duplicates`)
    t.ok(result.delivery.expected > 0 && result.delivery.delivered === result.delivery.expected, `${result.kind}: 100 % delivered`)
  }
})

t.test('flood: delivery accounted per level, nothing silently lost', async (t) => {
  const { code, stderr, file } = await smokeRun('flood', ALL_TARGETS)
  t.equal(code, 0, 'exits 0', { stderr })
  if (file === undefined) {
    t.fail('no result file')
    return
  }
  t.match(file, { benchmark: 'flood', smoke: true, machine: { cpus: Number } }, 'well-formed result file')
  for (const result of file.results) {
    t.equal(result.points.length, 2, `${result.kind}: both levels`)
    for (const point of result.points) {
      t.equal(point.connect.attempted, point.users, `${result.kind} ${point.users}: a fresh set of users per level`)
      t.equal(point.delivery.silentlyLost, 0, `${result.kind} ${point.users}: nothing silently lost`)
      t.equal(point.delivery.orderViolations, 0)
      t.ok(point.delivery.expected > 0)
      t.ok(point.stabilityPct >= 0 && point.stabilityPct <= 100)
    }
  }
  t.match(file.results.find((result) => result.kind === 'ours')?.settings, { MESSAGE_RATE_PER_S: '10', MESSAGE_BURST: '20' }, 'the rate limit set for the flood is recorded')
})

t.test('reconnect: every dropped client rejoins and misses nothing', async (t) => {
  const { code, stderr, file } = await smokeRun('reconnect', ALL_TARGETS)
  t.equal(code, 0, 'exits 0', { stderr })
  if (file === undefined) {
    t.fail('no result file')
    return
  }
  t.match(file, { benchmark: 'reconnect', smoke: true, machine: { cpus: Number } }, 'well-formed result file')
  for (const result of file.results) {
    t.same(result.points.map((point: { simultaneous: number }) => point.simultaneous), [1, 5])
    for (const point of result.points) {
      t.equal(point.succeeded, point.attempted, `${result.kind} ${point.simultaneous}: all rejoined`)
      t.equal(point.time.count, point.succeeded)
      t.equal(point.missed, 0, `${result.kind} ${point.simultaneous}: nothing missed across the reconnect`)
    }
  }
})

t.test('memory: idle connections held and measured, cycles recorded', async (t) => {
  const { code, stderr, file } = await smokeRun('memory', ALL_TARGETS)
  t.equal(code, 0, 'exits 0', { stderr })
  if (file === undefined) {
    t.fail('no result file')
    return
  }
  t.match(file, { benchmark: 'memory', smoke: true, machine: { cpus: Number } }, 'well-formed result file')
  for (const result of file.results) {
    // Every connection is held, or the ramp records which connects failed and why (a loaded CI
    // box can make a connect time out, or make ours shed one).
    t.ok(result.maxConnections === 60 || (result.maxConnections >= 50 && /^connects failed at 60 \(/.test(result.limitReason)), `${result.kind}: held every connection, or named the failures (${result.maxConnections}: ${result.limitReason})`)
    t.ok(result.idleRssMiB > 0)
    t.ok(result.points.every((point: { serverRssMiB: number, connections: number }) => point.serverRssMiB > 0 && point.connections > 0))
    t.equal(result.cycles.length, 2)
    t.ok(result.cycles.every((cycle: { users: number, connected: number }) => cycle.connected === cycle.users), `${result.kind}: every cycle's users connected`)
  }
})

t.test('scale: every configuration measured at each rate', async (t) => {
  const { code, stderr, file } = await smokeRun('scale', [])
  t.equal(code, 0, 'exits 0', { stderr })
  if (file === undefined) {
    t.fail('no result file')
    return
  }
  t.match(file, { benchmark: 'scale', smoke: true, machine: { cpus: Number } }, 'well-formed result file')
  t.same(file.results.map((result) => result.config), ['ours-w1', 'ours-w1-pool', 'plain', 'raw', 'raw-unbatched'])
  for (const result of file.results) {
    t.ok(result.points.length > 0, `${result.config}: measured`)
    for (const point of result.points) t.ok(point.deliveriesPerS > 0 && point.serverCores >= 0)
  }
})

t.test('report: every chart renders from the results', async (t) => {
  const { code, stderr } = await runScript('bench-report', ['--dir', out, '--no-doc'])
  t.equal(code, 0, 'exits 0', { stderr })
  for (const chart of ['load', 'flood', 'reconnect', 'memory', 'scale']) {
    const path = join(out, `${chart}.svg`)
    t.ok(existsSync(path) && readFileSync(path, 'utf8').startsWith('<svg'), `${chart}.svg rendered`)
  }
})

t.test('the delivery ledger finds what a member lacks', async (t) => {
  const room = new RoomLedger('r')
  const steady = new MemberRecord(2)
  const gappy = new MemberRecord(2)
  const late = new MemberRecord(5)
  room.members.push(steady, gappy, late)
  room.acked.push(3, 4, 5, 6, 7, 7)
  for (const seq of [3, 4, 5, 6, 7]) steady.live(seq)
  for (const seq of [3, 6, 7]) gappy.live(seq)
  t.equal(gappy.contiguousUpTo(), 3, 'a rejoin resumes after the last seq without a gap')
  gappy.add(5)
  late.live(6)
  late.live(6)
  late.connected = false
  const report = account([room], { unanswered: 1, lateAcks: 0 })
  t.equal(report.acked, 5, 'an acked seq counts once')
  t.equal(report.expected, 5 + 5 + 2, 'each member is owed what was acked after it joined')
  t.equal(report.missingConnected, 1, 'seq 4 is missing at a connected member')
  t.equal(report.missingDisconnected, 1, 'seq 7 is missing at the disconnected one')
  t.equal(report.orderViolations, 1, 'a repeated live seq is a violation')
  gappy.add(4)
  t.equal(gappy.contiguousUpTo(), 7, 'filled ranges merge')
  t.equal(account([room], { unanswered: 0, lateAcks: 0 }).missingConnected, 0)
})
