import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { ROOT, sourceState, type SourceState } from './targets.js'

/**
 * What every benchmark writes: docs/benchmarks/<name>.json with the machine, the date, the
 * command, the settings of each server, and its points; plus a progress line on stderr while it
 * runs and the small helpers the benchmark scripts share (arguments, sleeps, rounding).
 */

export const RESULTS_DIR = join(ROOT, 'docs', 'benchmarks')
/** Where smoke runs write, so they never overwrite the documented results. */
export const SMOKE_RESULTS_DIR = join(ROOT, '.bench-tmp', 'smoke')

export interface Machine {
  cpus: number
  cpuModel: string
  memoryGiB: number
  freeMemoryGiB: number
  loadAverage1m: number
  node: string
  kernel: string
  openFilesLimit: string
  /** Linux PSI: share of the last 60 s some runnable task waited for a CPU (a busy, shared box shows it). */
  cpuPressureSome60s: number | null
}

export function machine (): Machine {
  let openFiles = 'unknown'
  let kernel = 'unknown'
  try { openFiles = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim() } catch {}
  try { kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() } catch {}
  let pressure: number | null = null
  try { pressure = Number(/avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? Number.NaN) } catch {}
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)),
    node: process.version,
    kernel,
    openFilesLimit: openFiles,
    cpuPressureSome60s: pressure !== null && Number.isFinite(pressure) ? pressure : null
  }
}

export interface ResultFile<T> {
  benchmark: string
  date: string
  command: string
  source: SourceState
  smoke: boolean
  machine: Machine
  wallSeconds: number
  notes: string[]
  results: T
}

/** Writes the result file (to `dir`, docs/benchmarks/ by default) and returns its path. */
export function writeResults<T> (name: string, file: Omit<ResultFile<T>, 'benchmark' | 'date' | 'command' | 'source' | 'machine'>, dir: string): string {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${name}.json`)
  const body: ResultFile<T> = {
    benchmark: name,
    date: new Date().toISOString(),
    command: `node ${process.argv.slice(1).map((arg) => arg.replace(ROOT, '')).join(' ')}`,
    source: sourceState(),
    machine: machine(),
    ...file
  }
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`)
  return path
}

/** The results directory: `--out`, else docs/benchmarks/ (a smoke run: .bench-tmp/smoke/). */
export function resultsDir (args: Args): string {
  return args.optional('out') ?? (args.flag('smoke') ? SMOKE_RESULTS_DIR : RESULTS_DIR)
}

/** `--name value` and `--flag` arguments. */
export class Args {
  readonly #values = new Map<string, string>()

  constructor (argv: readonly string[] = process.argv.slice(2)) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] as string
      if (!arg.startsWith('--')) continue
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) this.#values.set(arg.slice(2), 'true')
      else this.#values.set(arg.slice(2), argv[++i] as string)
    }
  }

  flag (name: string): boolean {
    return this.#values.get(name) === 'true'
  }

  optional (name: string): string | undefined {
    return this.#values.get(name)
  }

  string (name: string, fallback: string): string {
    return this.#values.get(name) ?? fallback
  }

  number (name: string, fallback: number): number {
    const value = this.#values.get(name)
    return value === undefined ? fallback : Number(value)
  }

  numbers (name: string, fallback: readonly number[]): number[] {
    const value = this.#values.get(name)
    return value === undefined ? [...fallback] : value.split(',').map(Number).filter((n) => Number.isFinite(n) && n > 0)
  }

  /** `--env KEY=VALUE,KEY=VALUE`: extra settings for our server. */
  env (name = 'env'): Record<string, string> {
    const value = this.#values.get(name)
    if (value === undefined) return {}
    return Object.fromEntries(value.split(',').filter((pair) => pair.includes('=')).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
  }

  list (name: string, fallback: readonly string[]): string[] {
    const value = this.#values.get(name)
    return value === undefined ? [...fallback] : value.split(',').filter((item) => item !== '')
  }
}

/** Runs a benchmark when its module is the script node was started with, then exits. */
export async function runAsScript (moduleUrl: string, bench: (args: Args) => Promise<string>): Promise<void> {
  if (moduleUrl !== `file://${process.argv[1]}`) return
  const path = await bench(new Args())
  process.stderr.write(`wrote ${path}\n`)
  process.exit(0)
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export const round = (value: number, digits = 2): number => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

export const percent = (part: number, whole: number): number => whole === 0 ? 100 : round((100 * part) / whole, 3)

/** A progress line on stderr: rewritten in place on a terminal, one line every few seconds otherwise. */
export class Progress {
  readonly #tty = process.stderr.isTTY
  #lastPrinted = 0

  line (text: string): void {
    if (this.#tty) {
      process.stderr.write(`\r\u001b[2K${text}`)
      return
    }
    const now = Date.now()
    if (now - this.#lastPrinted < 5000) return
    this.#lastPrinted = now
    process.stderr.write(`${text}\n`)
  }

  /** A line that stays (a finished level). */
  log (text: string): void {
    process.stderr.write(`${this.#tty ? '\r\u001b[2K' : ''}${text}\n`)
  }
}
