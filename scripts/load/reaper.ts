import type { ChildProcess } from 'node:child_process'
import { identify, processTree, stillRunning } from './proc.js'

/**
 * Every process a benchmark starts (servers and their workers, driver processes) is registered
 * here and killed by its PID when the benchmark ends, however it ends: normal exit, an error,
 * Ctrl-C or SIGTERM. Nothing is killed by name.
 */

const tracked = new Map<number, string>()
let installed = false

function killTree (rootPid: number, signal: NodeJS.Signals): void {
  // Children first, so a primary cannot respawn a worker we just killed.
  for (const pid of processTree(rootPid).reverse()) {
    try { process.kill(pid, signal) } catch {}
  }
}

/** Kills every tracked process tree at once (SIGKILL). Synchronous: safe in an exit handler. */
export function killAll (): void {
  for (const pid of tracked.keys()) killTree(pid, 'SIGKILL')
  tracked.clear()
}

function install (): void {
  if (installed) return
  installed = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping every process this benchmark started\n`)
      killAll()
      process.exit(130)
    })
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`benchmark failed: ${error.stack ?? error.message}\n`)
    killAll()
    process.exit(1)
  })
  process.on('unhandledRejection', (error) => {
    process.stderr.write(`benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
    killAll()
    process.exit(1)
  })
}

/** Registers a child; it is killed (with everything under it) when this process ends. */
export function track (child: ChildProcess, name: string): void {
  install()
  if (child.pid === undefined) return
  const pid = child.pid
  tracked.set(pid, name)
  child.once('exit', () => tracked.delete(pid))
}

/**
 * Stops one tracked tree: `signal` to the root (a graceful stop), then SIGKILL to whatever is left
 * of the tree after `graceMs`. Resolves when the root has exited.
 */
export async function stopTree (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  const pid = child.pid
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    if (pid !== undefined) killTree(pid, 'SIGKILL')
    return
  }
  const members = identify(processTree(pid))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([exited, new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) })])
  clearTimeout(timer)
  for (const member of members.reverse()) {
    if (!stillRunning(member)) continue
    try { process.kill(member.pid, 'SIGKILL') } catch {}
  }
  await exited
  tracked.delete(pid)
}
