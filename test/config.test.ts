import { spawnSync } from 'node:child_process'
import t from 'tap'
import { ConfigError, DEFAULT_JWT_SECRET, loadConfig } from '../src/config.js'
import { MAIN, ROOT } from './helpers/cluster.js'

/** Settings are parsed once, frozen; a bad one stops the start with a message naming it, before any fork. */

t.test('defaults, parsing and freezing', async (t) => {
  const config = loadConfig({})
  t.equal(config.PORT, 3000)
  t.equal(config.HOST, '127.0.0.1')
  t.equal(config.JWT_SECRET, DEFAULT_JWT_SECRET)
  t.equal(config.MAX_HTTP_BUFFER_SIZE, 32 * 1024)
  t.ok(Object.isFrozen(config))
  const custom = loadConfig({ PORT: '8080', WORKERS: '3', SESSIONS_ROUTE: 'false', MESSAGE_RATE_PER_S: '0.5', DATA_DIR: '' })
  t.same([custom.PORT, custom.WORKERS, custom.SESSIONS_ROUTE, custom.MESSAGE_RATE_PER_S, custom.DATA_DIR], [8080, 3, false, 0.5, './data'], 'an empty value means the default')
})

t.test('bad values name the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ WORKERS: '0' }, /WORKERS/],
    [{ MAX_HTTP_BUFFER_SIZE: String(1024 * 1024) }, /MAX_HTTP_BUFFER_SIZE/],
    [{ MODERATION_POLICY: 'shout' }, /MODERATION_POLICY/],
    [{ SESSIONS_ROUTE: 'maybe' }, /SESSIONS_ROUTE/],
    [{ NODE_ENV: 'production' }, /JWT_SECRET/],
    [{ NODE_ENV: 'production', JWT_SECRET: 'short' }, /JWT_SECRET/]
  ]
  for (const [env, pattern] of cases) {
    let caught: unknown
    try {
      loadConfig(env)
    } catch (error) {
      caught = error
    }
    t.ok(caught instanceof ConfigError && pattern.test(caught.message), `${JSON.stringify(env)} refused, naming ${String(pattern)}`)
  }
  t.doesNotThrow(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-long-random-secret-of-forty-characters-x' }))
})

t.test('the process refuses to start with a clear message and forks nothing', async (t) => {
  const run = spawnSync(process.execPath, [MAIN], { cwd: ROOT, env: { PATH: process.env.PATH, NODE_ENV: 'production', PORT: '0' }, encoding: 'utf8', timeout: 20_000 })
  t.equal(run.status, 1)
  t.match(run.stderr, /invalid configuration:\n {2}JWT_SECRET: NODE_ENV=production needs a secret/)
  t.notMatch(run.stdout, /worker forked/)
  const bad = spawnSync(process.execPath, [MAIN], { cwd: ROOT, env: { PATH: process.env.PATH, WORKERS: 'many' }, encoding: 'utf8', timeout: 20_000 })
  t.equal(bad.status, 1)
  t.match(bad.stderr, /WORKERS: .*\(got "many"\)/)
})
