import cluster from 'node:cluster'
import { ConfigError, loadConfig } from './config.js'
import { runPrimary } from './primary.js'
import { runWorker } from './worker.js'

/** Entry point: the primary when started, a Socket.IO worker when forked by it. */
let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`${error.message}\n`)
  process.exit(1)
}
const run = cluster.isPrimary ? runPrimary : runWorker
run(config).catch((error: unknown) => {
  process.stderr.write(`${cluster.isPrimary ? 'primary' : 'worker'} failed to start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
