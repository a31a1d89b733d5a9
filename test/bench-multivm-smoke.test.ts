import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './helpers/cluster.js'

/**
 * The multi-VM benchmark (scripts/bench-multivm.ts) at its smoke size: it starts its own
 * PostgreSQL and Redis, runs ours on one and two VMs, ours on SQLite and plain Socket.IO on the
 * Redis adapter, prints a row of numbers for each, writes its results and chart, and every
 * message acked anywhere reached every member of its room, on its own VM and on the other one.
 * Behaviour only: no timing is asserted (timings live in the results).
 */

interface Point {
  ratePerUser: number
  deliveriesPerS: number
  serverCores: number
  serverCpuUsPerDelivery: number
  ack: { count: number, p99Ms: number }
  fanoutCrossVm: { count: number }
  acksOk: number
}

interface ConfigResult {
  config: string
  vms: number
  users: number
  joined: number
  points: Point[]
  delivery: {
    expected: number
    delivered: number
    silentlyLost: number
    unanswered: number
    orderViolations: number
    crossVmExpected: number
    crossVmDelivered: number
    roomOrderViolations: number | null
    foreign: number
  }
}

const CONFIGS = ['one-vm', 'two-vms', 'sqlite', 'plain-redis']

// Four configurations, two one-second steps each: about 30 s on a quiet 2-core box.
t.setTimeout(300_000)

const out = mkdtempSync(join(tmpdir(), 'bench-multivm-smoke-'))
t.teardown(() => rmSync(out, { recursive: true, force: true }))

t.test('multivm --smoke: every configuration measured, every acked message at every member', async (t) => {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'scripts', 'bench-multivm.js'), '--smoke', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: string[] = []
  const stderr: string[] = []
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const printed = stdout.join('')
  t.equal(code, 0, 'exits 0', { stderr: stderr.join('').slice(-3000) })

  t.match(printed, /noisy/, 'the output says its numbers are noisy')
  for (const config of CONFIGS) {
    // A summary row: the config, its deliveries/s within the bound (a loaded box may have none),
    // its peak, and its ack p50 / p99.
    t.match(printed, new RegExp(`^\\| ${config} \\| (\\d+|none within the bound) \\| \\d+ \\| [\\d.]+ / [\\d.]+`, 'm'), `${config}: a summary row with numbers`)
  }

  const path = join(out, 'multivm.json')
  if (!existsSync(path)) {
    t.fail('no result file')
    return
  }
  const file = JSON.parse(readFileSync(path, 'utf8')) as { benchmark: string, smoke: boolean, notes: string[], results: ConfigResult[] }
  t.match(file, { benchmark: 'multivm', smoke: true }, 'well-formed result file')
  t.same(file.results.map((result) => result.config), CONFIGS, 'every configuration, in order')
  t.ok(existsSync(join(out, 'multivm.svg')) && readFileSync(join(out, 'multivm.svg'), 'utf8').startsWith('<svg'), 'chart rendered')

  for (const result of file.results) {
    t.equal(result.joined, result.users, `${result.config}: every user joined`)
    t.same(result.points.map((point) => point.ratePerUser), [1, 2], `${result.config}: both steps`)
    for (const point of result.points) {
      t.ok(point.deliveriesPerS > 0 && point.acksOk > 0 && point.ack.count === point.acksOk, `${result.config} ${point.ratePerUser}/s: acks and deliveries measured`)
      t.ok(point.serverCores > 0 && point.serverCpuUsPerDelivery > 0, `${result.config} ${point.ratePerUser}/s: server CPU measured`)
      if (result.vms > 1) t.ok(point.fanoutCrossVm.count > 0, `${result.config} ${point.ratePerUser}/s: fan-out to the other VM measured`)
    }
    const { delivery } = result
    t.ok(delivery.expected > 0, `${result.config}: deliveries were owed`)
    t.equal(delivery.delivered, delivery.expected, `${result.config}: every acked message reached every member`)
    t.equal(delivery.silentlyLost, 0, `${result.config}: nothing silently lost`)
    t.equal(delivery.unanswered, 0, `${result.config}: every send answered`)
    t.equal(delivery.orderViolations, 0, `${result.config}: no duplicates, nothing out of order`)
    t.equal(delivery.foreign, 0, `${result.config}: nothing received that was not sent`)
    if (result.vms > 1) {
      t.ok(delivery.crossVmExpected > 0, `${result.config}: messages owed to members on the other VM`)
      t.equal(delivery.crossVmDelivered, delivery.crossVmExpected, `${result.config}: every one reached the other VM`)
    }
    if (result.config !== 'plain-redis') t.equal(delivery.roomOrderViolations, 0, `${result.config}: in room seq order`)
  }
})
