import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'

/**
 * Summarizes V8 CPU profiles (.cpuprofile, as written by `--cpu-prof`, e.g. with the benchmarks'
 * `--cpu-prof DIR`): per profile, where the time went by package or source file (self time) and
 * the top functions by self time, so a missed target can be explained with numbers.
 *
 * With `--window S` only the S seconds before the profile's last `--skip-end E` seconds count
 * (default: the whole profile), so a steady load can be read without start-up and shutdown; the
 * inclusive list (time in a function and everything it called) shows where each hop's time goes.
 *
 *   node dist/scripts/cpu-profile-summary.js DIR_OR_FILE… [--top 25] [--window S] [--skip-end E]
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

interface Window {
  /** Seconds counted, ending skipEndS before the profile ends; undefined: the whole profile. */
  seconds?: number
  skipEndS: number
}

function summarize (path: string, top: number, window: Window): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const to = profile.endTime - window.skipEndS * 1e6
  const from = window.seconds === undefined ? profile.startTime : to - window.seconds * 1e6
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let at = profile.startTime
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0
    if (at < from || at > to) continue
    selfUs.set(samples[i] as number, (selfUs.get(samples[i] as number) ?? 0) + (deltas[i + 1] ?? 0))
  }
  const totalUs = Math.min(to, profile.endTime) - Math.max(from, profile.startTime)
  const byPlace = new Map<string, number>()
  const byFunction = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const nameOf = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame
    return `${functionName === '' ? '(anonymous)' : functionName} ${placeOf(url, functionName)}${url === '' ? '' : `:${lineNumber + 1}`}`
  }
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined) continue
    const { functionName, url } = node.callFrame
    if (functionName === '(idle)') {
      idleUs += us
      continue
    }
    const place = placeOf(url, functionName)
    byPlace.set(place, (byPlace.get(place) ?? 0) + us)
    byFunction.set(nameOf(node), (byFunction.get(nameOf(node)) ?? 0) + us)
    const seen = new Set<string>()
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const frame = byId.get(current)
      if (frame === undefined) break
      const name = nameOf(frame)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + us)
    }
  }
  const busyUs = totalUs - idleUs
  const pct = (us: number): string => `${((100 * us) / Math.max(1, busyUs)).toFixed(1).padStart(5)} %`
  const lines = [`${basename(path)}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(2)} s busy (${((100 * busyUs) / Math.max(1, totalUs)).toFixed(0)} %)`, '  self time by place (share of busy time):']
  for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${place}`)
  lines.push('  top functions by self time:')
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${name}`)
  lines.push('  top functions by inclusive time (with what they called):')
  for (const [name, us] of [...inclusive].filter(([name]) => !name.startsWith('(root)')).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${name}`)
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const option = (name: string): number | undefined => {
    const index = args.indexOf(name)
    return index === -1 ? undefined : Number(args[index + 1])
  }
  const top = option('--top') ?? 25
  const windowS = option('--window')
  const window: Window = { skipEndS: option('--skip-end') ?? 0, ...(windowS === undefined ? {} : { seconds: windowS }) }
  const paths = args.filter((arg, index) => !arg.startsWith('--') && !(args[index - 1]?.startsWith('--') === true))
  for (const file of files(paths)) process.stdout.write(`${summarize(file, top, window)}\n\n`)
}
