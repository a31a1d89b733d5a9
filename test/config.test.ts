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

t.test('identity, proxy and operations settings', async (t) => {
  const config = loadConfig({})
  t.equal(config.GUESTS, true, 'guests on outside production')
  t.equal(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-long-random-secret-of-forty-characters-x' }).GUESTS, false, 'off in production')
  t.equal(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-long-random-secret-of-forty-characters-x', GUESTS: 'true' }).GUESTS, true, 'unless GUESTS says so')
  t.equal(config.TRUST_PROXY, false)
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY, true)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' }).TRUST_PROXY, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'])
  t.same([config.OPS_PORT, config.OPS_HOST], [9100, '127.0.0.1'], 'the operations listener is on loopback')
  t.same(loadConfig({ JWT_KEYS: 'a:first-secret, b:second:secret' }).JWT_KEYS, { a: 'first-secret', b: 'second:secret' }, 'kid:secret pairs')
  t.same(loadConfig({ JWT_KEYS: '{"k1":"s1"}', JWT_KID: 'k1' }).JWT_KEYS, { k1: 's1' }, 'JSON')
  t.same(config.JWT_KEYS, {})
  t.ok(config.ROOMS_CREATED_PER_HOUR > 0 && config.ROOMS_CREATED_MAX > 0, 'room creation limits have defaults')
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
    [{ NODE_ENV: 'production', JWT_SECRET: 'short' }, /JWT_SECRET/],
    [{ NODE_ENV: 'production', JWT_SECRET: 'a-long-random-secret-of-forty-characters-x', DEBUG_GC_ROUTE: 'true' }, /DEBUG_GC_ROUTE/],
    [{ NODE_ENV: 'production', JWT_SECRET: 'a-long-random-secret-of-forty-characters-x', JWT_KEYS: 'old:short' }, /JWT_KEYS/],
    [{ TRUST_PROXY: 'maybe' }, /TRUST_PROXY/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /TRUST_PROXY/],
    [{ JWT_KEYS: '{not json' }, /JWT_KEYS/],
    [{ JWT_KEYS: 'no-secret' }, /JWT_KEYS/],
    [{ JWT_KID: 'missing' }, /JWT_KID/],
    [{ JWT_KEYS: '{"pub":"-----BEGIN PUBLIC KEY-----x"}', JWT_KID: 'pub' }, /JWT_KID/],
    [{ GUESTS: 'sometimes' }, /GUESTS/],
    [{ OPS_PORT: '70000' }, /OPS_PORT/],
    [{ STORE: 'mysql' }, /STORE/],
    [{ STORE: 'postgres' }, /DATABASE_URL/],
    [{ STORE: 'postgres', DATABASE_URL: 'mysql://chat:hunter2@db/chat' }, /DATABASE_URL: .*\(hidden\)/],
    [{ REDIS_URL: 'redis://127.0.0.1:6379' }, /REDIS_URL: several VMs share PostgreSQL/],
    [{ STORE: 'postgres', DATABASE_URL: 'postgres://db/chat', REDIS_URL: 'http://redis' }, /REDIS_URL/]
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
