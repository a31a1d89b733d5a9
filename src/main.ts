import cluster from 'node:cluster'
import { ConfigError, loadConfig } from './config.js'

/** Entry point: the primary when started, a Socket.IO worker when forked by it. */
let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`${error.message}\n`)
  process.exit(1)
}
// Each role loads only its own modules: the primary never loads Socket.IO, fastify or the
// handlers, and a worker never loads the balancer or the supervisor.
const run = cluster.isPrimary
  ? async (settings: typeof config) => { await (await import('./primary.js')).runPrimary(settings) }
  : async (settings: typeof config) => { await (await import('./worker.js')).runWorker(settings) }
run(config).catch((error: unknown) => {
  process.stderr.write(`${cluster.isPrimary ? 'primary' : 'worker'} failed to start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
