import { readFileSync } from 'node:fs'

/**
 * The process's soft limit on open files (Linux: /proc/self/limits), or undefined where it
 * cannot be read. Each connection costs one descriptor, so a worker must refuse connections
 * (E_OVERLOADED) before accept() starts failing with EMFILE.
 */
export function openFilesLimit (): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((row) => row.startsWith('Max open files'))
    const soft = line?.split(/\s{2,}/)[1]
    const limit = Number(soft)
    return Number.isFinite(limit) && limit > 0 ? limit : undefined
  } catch {
    return undefined
  }
}
