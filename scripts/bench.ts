import { benchFlood } from './bench-flood.js'
import { benchLoad } from './bench-load.js'
import { benchMemory } from './bench-memory.js'
import { benchReconnect } from './bench-reconnect.js'
import { benchReport } from './bench-report.js'
import { benchScale } from './bench-scale.js'
import { Args, RESULTS_DIR, resultsDir } from './load/report.js'

/**
 * Every benchmark in turn (load, flood, reconnect, memory, scale), then the charts and the
 * tables of docs/benchmarks.md. Arguments go to every benchmark (`--smoke`, `--targets`,
 * `--out DIR`); `--only load,flood` runs a subset.
 *
 *   node dist/scripts/bench.js [--only load,flood,reconnect,memory,scale] [--smoke] [--out dir]
 */

const BENCHMARKS = {
  load: benchLoad,
  flood: benchFlood,
  reconnect: benchReconnect,
  memory: benchMemory,
  scale: benchScale
} as const

const args = new Args()
const only = args.list('only', Object.keys(BENCHMARKS))
for (const [name, run] of Object.entries(BENCHMARKS)) {
  if (!only.includes(name)) continue
  const started = Date.now()
  const path = await run(args)
  process.stderr.write(`${name}: wrote ${path} in ${Math.round((Date.now() - started) / 1000)} s\n`)
}
const dir = resultsDir(args)
await benchReport(new Args(['--dir', dir, ...(dir === RESULTS_DIR ? [] : ['--no-doc'])]))
process.exit(0)
