import { readdirSync, readFileSync } from 'node:fs'

/**
 * What Linux's /proc says about a process tree: the processes under a root (a server's primary
 * and its workers), their CPU time (user + system, every thread) and resident memory. Used to
 * measure servers and drivers from the outside, the same way for all three targets.
 */

const CLOCK_TICKS_PER_S = 100
const PAGE_BYTES = 4096

interface StatLine {
  pid: number
  ppid: number
  cpuTicks: number
  /** Start time in clock ticks after boot: with the PID, it names one process for good. */
  startTicks: string
}

function readStat (pid: number): StatLine | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { pid, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]), startTicks: fields[19] ?? '' }
  } catch {
    return undefined
  }
}

/** The root and every process below it, root first. */
export function processTree (rootPid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const stat = readStat(pid)
    if (stat === undefined) continue
    const list = children.get(stat.ppid)
    if (list === undefined) children.set(stat.ppid, [pid])
    else list.push(pid)
  }
  const tree: number[] = []
  const visit = (pid: number, depth: number): void => {
    if (depth > 16) return
    tree.push(pid)
    for (const child of children.get(pid) ?? []) visit(child, depth + 1)
  }
  if (readStat(rootPid) !== undefined) visit(rootPid, 0)
  return tree
}

/** A PID and its start time: a later kill can check it still names the same process. */
export interface ProcessIdentity {
  pid: number
  startTicks: string
}

export function identify (pids: readonly number[]): ProcessIdentity[] {
  return pids.flatMap((pid) => {
    const stat = readStat(pid)
    return stat === undefined ? [] : [{ pid, startTicks: stat.startTicks }]
  })
}

/** True while that very process (not a later one with the same PID) is alive. */
export function stillRunning (identity: ProcessIdentity): boolean {
  return readStat(identity.pid)?.startTicks === identity.startTicks
}

/** CPU seconds (user + system, all threads) used so far by these processes. */
export function cpuSeconds (pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) ticks += readStat(pid)?.cpuTicks ?? 0
  return ticks / CLOCK_TICKS_PER_S
}

/** Resident set size in bytes, summed over these processes. */
export function rssBytes (pids: readonly number[]): number {
  let pages = 0
  for (const pid of pids) {
    try {
      pages += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1])
    } catch {}
  }
  return pages * PAGE_BYTES
}

/** CPU seconds the whole machine has been busy (/proc/stat: every state but idle and iowait). */
export function busySeconds (): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return (fields.reduce((a, b) => a + b, 0) - idle) / CLOCK_TICKS_PER_S
}

export interface TreeSample {
  atMs: number
  cpuS: number
  rssBytes: number
  processes: number
}

/** Samples one process tree; `since(earlier)` turns two samples into CPU cores used. */
export class TreeMeter {
  readonly rootPid: number

  constructor (rootPid: number) {
    this.rootPid = rootPid
  }

  sample (): TreeSample {
    const pids = processTree(this.rootPid)
    return { atMs: performance.now(), cpuS: cpuSeconds(pids), rssBytes: rssBytes(pids), processes: pids.length }
  }
}

/** CPU cores used between two samples (1.0 = one core busy all the time). */
export function coresBetween (start: TreeSample, end: TreeSample): number {
  const seconds = (end.atMs - start.atMs) / 1000
  return seconds <= 0 ? 0 : (end.cpuS - start.cpuS) / seconds
}
