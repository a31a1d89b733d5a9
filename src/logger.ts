import { pino, type Logger } from 'pino'
import type { Config } from './config.js'

/** JSON logs, one line per event worth knowing; each process binds its role (and worker id). */
export function createLogger (config: Pick<Config, 'LOG_LEVEL'>, bindings: Record<string, string | number>): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime
  })
}
