import { request as httpRequest } from 'node:http'
import t from 'tap'
import { startCluster } from './helpers/cluster.js'

/**
 * Failed password sign-ins are limited per account name and per client address, over every
 * worker: past the limit the answer is 429 E_RATE_LIMITED with retryAfterMs, even for the right
 * password, and an unknown name is treated like an account (a 429 reveals nothing).
 */

interface Answer { status: number, body: { error?: { code: string, retryAfterMs?: number }, userId?: string } }

/** POST /api/sessions from a chosen local address (loopback has many). */
async function signIn (port: number, body: unknown, localAddress = '127.0.0.1'): Promise<Answer> {
  const payload = JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/api/sessions', method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Answer['body'] }))
    })
    req.once('error', reject)
    req.end(payload)
  })
}

t.test('failures per account', async (t) => {
  const cluster = await startCluster(t, { env: { SIGNIN_FAILURES_PER_ACCOUNT: '3', SIGNIN_FAILURES_PER_IP: '1000', SIGNIN_FAILURE_WINDOW_S: '60' } })
  for (const username of ['judy', 'kate']) {
    const created = await fetch(`${cluster.url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'the password' }) })
    t.equal(created.status, 201)
  }
  for (let i = 0; i < 3; i++) {
    t.equal((await signIn(cluster.port, { username: 'judy', password: 'a wrong guess' }, `127.0.0.${i + 2}`)).status, 401, `guess ${i + 1}: 401`)
  }
  const blocked = await signIn(cluster.port, { username: 'JUDY', password: 'the password' }, '127.0.0.9')
  t.equal(blocked.status, 429, 'the account is throttled from every address and in any case, even with the right password')
  t.equal(blocked.body.error?.code, 'E_RATE_LIMITED')
  t.ok((blocked.body.error?.retryAfterMs ?? 0) > 0 && (blocked.body.error?.retryAfterMs ?? 0) <= 60_000, 'with retryAfterMs within the window')
  t.equal((await signIn(cluster.port, { username: 'kate', password: 'the password' })).status, 201, 'another account is unaffected')

  for (let i = 0; i < 3; i++) await signIn(cluster.port, { username: 'ghost', password: 'a wrong guess' })
  t.equal((await signIn(cluster.port, { username: 'ghost', password: 'a wrong guess' })).status, 429, 'an unknown name is throttled the same way')
})

t.test('failures per address', async (t) => {
  const cluster = await startCluster(t, { env: { SIGNIN_FAILURES_PER_ACCOUNT: '1000', SIGNIN_FAILURES_PER_IP: '4' } })
  await fetch(`${cluster.url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'leo', password: 'the password' }) })
  for (let i = 0; i < 4; i++) t.equal((await signIn(cluster.port, { username: `name${i}`, password: 'a wrong guess' }, '127.0.0.2')).status, 401)
  const blocked = await signIn(cluster.port, { username: 'leo', password: 'the password' }, '127.0.0.2')
  t.same([blocked.status, blocked.body.error?.code], [429, 'E_RATE_LIMITED'], 'spraying many names from one address hits a wall')
  t.equal((await signIn(cluster.port, { username: 'leo', password: 'the password' }, '127.0.0.3')).status, 201, 'another address signs in')
  t.equal((await signIn(cluster.port, { username: 'guest-from-there' }, '127.0.0.2')).status, 201, 'guest sign-in is not a password failure')
})
