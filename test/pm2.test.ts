import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { freePort, ROOT, TEST_SECRET } from './helpers/cluster.js'
import { metric } from './helpers/client.js'

/**
 * The deployment path: pm2 (the project's own dependency, no global install) runs
 * ecosystem.config.cjs, waits for the primary's ready signal, relays SIGUSR2 for a rolling
 * restart, and stops the service with a drain that exits 0.
 */

const run = promisify(execFile)
const PM2 = join(ROOT, 'node_modules', '.bin', 'pm2')

t.test('pm2 start, rolling restart through pm2 sendSignal, stop', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'chat-pm2-'))
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-pm2-data-'))
  const port = await freePort()
  const opsPort = await freePort()
  const env = { ...process.env, PM2_HOME: home, PORT: String(port), OPS_PORT: String(opsPort), HOST: '127.0.0.1', WORKERS: '2', DATA_DIR: dataDir, JWT_SECRET: TEST_SECRET, SHUTDOWN_TIMEOUT_MS: '4000' }
  const pm2 = async (...args: string[]): Promise<string> => (await run(PM2, args, { cwd: ROOT, env, timeout: 60_000 })).stdout
  t.teardown(async () => {
    await pm2('kill').catch(() => {})
    rmSync(home, { recursive: true, force: true })
    rmSync(dataDir, { recursive: true, force: true })
  })

  await pm2('start', 'ecosystem.config.cjs', '--env', 'production')
  const url = `http://127.0.0.1:${port}`
  const list = JSON.parse(await pm2('jlist')) as Array<{ name: string, pm2_env: { status: string, exec_mode: string } }>
  t.match(list, [{ name: 'chat', pm2_env: { status: 'online', exec_mode: 'fork_mode' } }], 'online in fork mode: one primary')
  t.equal((await fetch(`${url}/readyz`)).status, 200, 'ready as soon as pm2 says online (wait_ready)')

  await pm2('sendSignal', 'SIGUSR2', 'chat')
  let restarts = 0
  for (let i = 0; i < 300 && restarts < 1; i++) {
    restarts = await metric(`http://127.0.0.1:${opsPort}`, 'chat_rolling_restarts_total').catch(() => 0)
    if (restarts < 1) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(restarts, 1, 'the rolling restart ran')
  t.equal((await fetch(`${url}/readyz`)).status, 200)

  await pm2('stop', 'chat')
  const stopped = JSON.parse(await pm2('jlist')) as Array<{ pm2_env: { status: string } }>
  t.equal(stopped[0]?.pm2_env.status, 'stopped')
  const out = readFileSync(join(home, 'logs', 'chat-out.log'), 'utf8')
  t.match(out, /"msg":"shutting down: draining workers"/, 'pm2 stop drained the workers')
  t.match(out, /"msg":"stopped"/, 'and the primary exited after the drain')
})
