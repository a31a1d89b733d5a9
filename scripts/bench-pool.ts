import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { Piscina } from 'piscina'
import { EventLoopDelay } from '../src/ops/event-loop.js'
import { compiledPath, projectPath } from '../src/paths.js'
import type { Message } from '../src/protocol/schemas.js'
import { createTextChecker } from '../src/text/check-message.js'

/**
 * Inline vs pooled: where should a worker process validate/moderate a text, or serialize a page
 * of messages? For each term-list size and message size it runs the same stream of requests
 * (each in its own event-loop turn, as socket events arrive) once inline and once on a Piscina
 * pool, and prints throughput, the event-loop delay p99/max the main thread suffered, and the
 * main thread's own CPU per request. docs/benchmarks.md keeps the numbers and the rule chosen.
 *
 *   node dist/scripts/bench-pool.js [--requests 4000] [--threads 1] [--quick]
 */

interface Row {
  task: string
  mode: 'inline' | 'pool'
  threads: number
  terms: number
  size: number
  perSecond: number
  loopP99Ms: number
  loopMaxMs: number
  mainCpuUsPerRequest: number
}

const IN_FLIGHT = 64

function termList (count: number): string {
  const defaults = readFileSync(projectPath('workers', 'moderation-terms.txt'), 'utf8')
  if (count <= 41) return defaults
  // The default list plus generated words of realistic length, a fifth of them infix.
  const extra = Array.from({ length: count - 41 }, (_, i) => {
    const word = `w${i.toString(36)}x${(i * 7919).toString(36)}`
    return i % 5 === 0 ? `*${word}*` : i % 5 === 1 ? `${word}*` : word
  })
  return `${defaults}\n${extra.join('\n')}`
}

function sampleText (size: number): string {
  const words = ['hello', 'world', 'chat', 'message', 'über', 'naïve', 'déjà', 'vu', 'ok', 'thanks', '👍', 'see', 'you', 'soon']
  let text = ''
  for (let i = 0; text.length < size; i++) text += `${words[i % words.length]} `
  return text.slice(0, size).trim() || 'x'
}

function samplePage (count: number, size: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `01a21734-6b86-7bbc-a6d3-${String(i).padStart(12, '0')}`,
    room: 'bench',
    seq: i + 1,
    userId: 'f9c39f04-62ae-49bd-a8b6-444b53929a49',
    username: 'alice',
    text: sampleText(size),
    ts: 1795685641094 + i,
    clientMsgId: `client-${i}-abcdefgh`
  }))
}

/** Runs `requests` requests, each started in its own macrotask, at most IN_FLIGHT at once. */
async function drive (requests: number, handle: () => unknown): Promise<{ perSecond: number, loopP99Ms: number, loopMaxMs: number, mainCpuUsPerRequest: number }> {
  const delay = new EventLoopDelay(1)
  delay.reset()
  // Event-loop utilization measures the main thread alone (process.cpuUsage() would add the pool's threads).
  const eluStart = performance.eventLoopUtilization()
  const start = performance.now()
  let started = 0
  let done = 0
  await new Promise<void>((resolve) => {
    const launch = (): void => {
      if (started >= requests) return
      started++
      setImmediate(() => {
        void Promise.resolve(handle()).then(() => {
          done++
          if (done === requests) resolve()
          else launch()
        })
      })
    }
    for (let i = 0; i < IN_FLIGHT; i++) launch()
  })
  const seconds = (performance.now() - start) / 1000
  const elu = performance.eventLoopUtilization(eluStart)
  const result = {
    perSecond: Math.round(requests / seconds),
    loopP99Ms: Number(delay.percentileMs(99).toFixed(2)),
    loopMaxMs: Number(delay.maxMs().toFixed(2)),
    mainCpuUsPerRequest: Number((elu.active * 1000 / requests).toFixed(1))
  }
  delay.close()
  return result
}

export async function benchPool (options: { requests: number, threads: number, termCounts: number[], sizes: number[], pageSizes: number[] }): Promise<Row[]> {
  const rows: Row[] = []
  const dir = mkdtempSync(join(tmpdir(), 'chat-bench-pool-'))
  try {
    for (const terms of options.termCounts) {
      const file = join(dir, `terms-${terms}.txt`)
      const content = termList(terms)
      writeFileSync(file, content)
      const inline = createTextChecker(content, 'reject')
      const pool = new Piscina({
        filename: compiledPath('workers', 'chat-tasks.ts'),
        minThreads: options.threads,
        maxThreads: options.threads,
        idleTimeout: Number.POSITIVE_INFINITY,
        workerData: { termsFile: file, policy: 'reject' }
      })
      try {
        await Promise.all(Array.from({ length: options.threads * 4 }, async () => await pool.run('warm up', { name: 'checkText' })))
        for (const size of options.sizes) {
          const text = sampleText(size)
          for (let i = 0; i < 200; i++) inline(text) // warm the JIT like a running server
          const base = { task: 'checkText', threads: options.threads, terms, size }
          rows.push({ ...base, mode: 'inline', ...await drive(options.requests, () => inline(text)) })
          rows.push({ ...base, mode: 'pool', ...await drive(options.requests, async () => await pool.run(text, { name: 'checkText' })) })
        }
        if (terms === options.termCounts[0]) {
          for (const size of options.pageSizes) {
            const page = samplePage(100, size)
            const base = { task: 'serializePage(100)', threads: options.threads, terms: 0, size }
            const requests = Math.max(200, Math.round(options.requests / 4))
            rows.push({ ...base, mode: 'inline', ...await drive(requests, () => JSON.stringify(page)) })
            rows.push({ ...base, mode: 'pool', ...await drive(requests, async () => await pool.run(page, { name: 'serializeMessages' })) })
          }
        }
      } finally {
        await pool.destroy()
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

export function formatRows (rows: Row[]): string {
  const header = '| task | terms | size (chars) | mode | threads | req/s | loop p99 ms | loop max ms | main thread µs/req |'
  const lines = rows.map((row) => `| ${row.task} | ${row.terms} | ${row.size} | ${row.mode} | ${row.threads} | ${row.perSecond} | ${row.loopP99Ms} | ${row.loopMaxMs} | ${row.mainCpuUsPerRequest} |`)
  return [header, '|---|---|---|---|---|---|---|---|---|', ...lines].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '4000' },
      threads: { type: 'string', default: '1' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' }
    }
  })
  const quick = values.quick === true
  const rows = await benchPool({
    requests: quick ? 200 : Number(values.requests),
    threads: Number(values.threads),
    termCounts: quick ? [41] : [41, 1000, 20_000],
    sizes: quick ? [20, 2000] : [20, 200, 512, 1000, 2000],
    pageSizes: quick ? [100] : [100, 500, 2000]
  })
  console.log(`bench-pool: node ${process.version}, ${IN_FLIGHT} requests in flight, ${values.threads} pool thread(s)`)
  console.log(formatRows(rows))
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2))
}
