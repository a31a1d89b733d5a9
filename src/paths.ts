import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root (the folder holding package.json), found from this file in src/ or dist/src/. */
export const projectRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)))

function findRoot (start: string): string {
  let dir = start
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir
    dir = dirname(dir)
  }
  throw new Error(`cannot find the package root above ${start}`)
}

/** A path inside the package root. */
export function projectPath (...segments: string[]): string {
  return join(projectRoot, ...segments)
}

/**
 * The compiled JavaScript of a module of this package, for things that need a file to start
 * (pool threads, forked workers): dist/<path>.js.
 */
export function compiledPath (...segments: string[]): string {
  const last = segments[segments.length - 1] ?? ''
  return join(projectRoot, 'dist', ...segments.slice(0, -1), last.replace(/\.ts$/, '.js'))
}
