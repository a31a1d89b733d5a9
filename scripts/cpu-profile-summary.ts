import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'

/**
 * Summarizes V8 CPU profiles (.cpuprofile, as written by `--cpu-prof`, e.g. with the benchmarks'
 * `--cpu-prof DIR`): per profile, where the time went by package or source file (self time) and
 * the top functions by self time, so a missed target can be explained with numbers.
 *
 *   node dist/scripts/cpu-profile-summary.js DIR_OR_FILE… [--top 25]
 */

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

/** Where a frame's code lives: a package, one of our directories, node's internals or V8 itself. */
export function placeOf (url: string, functionName: string): string {
  if (url === '') return `(${functionName === '' ? 'anonymous' : functionName})`
  const modules = url.lastIndexOf('node_modules/')
  if (modules !== -1) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : rest[0] ?? url
  }
  if (url.startsWith('node:')) return url
  const dist = url.indexOf('/dist/')
  return dist === -1 ? url : url.slice(dist + '/dist/'.length)
}

function files (paths: string[]): string[] {
  return paths.flatMap((path) => statSync(path).isDirectory()
    ? readdirSync(path).filter((name) => name.endsWith('.cpuprofile')).map((name) => join(path, name))
    : [path])
}

function summarize (path: string, top: number): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i] as number, (selfUs.get(samples[i] as number) ?? 0) + (deltas[i] ?? 0))
  const totalUs = profile.endTime - profile.startTime
  const byPlace = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') {
      idleUs += us
      continue
    }
    const place = placeOf(url, functionName)
    byPlace.set(place, (byPlace.get(place) ?? 0) + us)
    const key = `${functionName === '' ? '(anonymous)' : functionName} ${place}${url === '' ? '' : `:${lineNumber + 1}`}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  }
  const busyUs = totalUs - idleUs
  const pct = (us: number): string => `${((100 * us) / Math.max(1, busyUs)).toFixed(1).padStart(5)} %`
  const lines = [`${basename(path)}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(2)} s busy (${((100 * busyUs) / Math.max(1, totalUs)).toFixed(0)} %)`, '  self time by place (share of busy time):']
  for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${place}`)
  lines.push('  top functions by self time:')
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${name}`)
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const topIndex = args.indexOf('--top')
  const top = topIndex === -1 ? 25 : Number(args[topIndex + 1])
  const paths = args.filter((arg, index) => !arg.startsWith('--') && (topIndex === -1 || index !== topIndex + 1))
  for (const file of files(paths)) process.stdout.write(`${summarize(file, top)}\n\n`)
}
