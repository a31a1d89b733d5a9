import { createSigner } from 'fast-jwt'
import t from 'tap'
import { startCluster, TEST_SECRET } from './helpers/cluster.js'
import { connect, connectError, request, signIn } from './helpers/client.js'

/** Handshake and REST authentication: only an HS256 token signed with our secret and not expired. */

function base64url (value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

t.test('sessions and token checks', async (t) => {
  const cluster = await startCluster(t)
  const session = await signIn(cluster.url, 'alice')
  t.match(session, { token: String, userId: String, username: 'alice', expiresAt: String })
  t.ok(Date.parse(session.expiresAt) > Date.now(), 'expiresAt is an ISO date in the future')
  t.not((await signIn(cluster.url, 'alice')).userId, session.userId, 'each guest sign-in is a new identity, even under the same name')

  const [, payload] = session.token.split('.')
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, unknown]> = [
    ['missing', undefined],
    ['empty', ''],
    ['not a string', { token: 1 }],
    ['garbage', 'not.a.jwt'],
    ['forged signature', `${session.token.slice(0, -4)}AAAA`],
    ['alg none', `${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.`],
    ['other secret', createSigner({ key: 'some-other-secret-that-is-long-enough', algorithm: 'HS256' })({ sub: session.userId, name: 'alice' })],
    ['HS512 with our secret', createSigner({ key: TEST_SECRET, algorithm: 'HS512' })({ sub: session.userId, name: 'alice' })],
    ['expired', createSigner({ key: TEST_SECRET, algorithm: 'HS256' })({ sub: session.userId, name: 'alice', iat: now - 120, exp: now - 60 })],
    ['no name claim', createSigner({ key: TEST_SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub: session.userId })]
  ]
  for (const [label, token] of cases) {
    const error = await connectError(t, cluster.url, token)
    t.same(error.data, { code: 'E_UNAUTHORIZED' }, `handshake refused: ${label}`)
    const rest = await fetch(`${cluster.url}/api/rooms/lobby/messages`, { headers: typeof token === 'string' ? { authorization: `Bearer ${token}` } : {} })
    t.equal(rest.status, 401, `REST refused: ${label}`)
    t.equal(((await rest.json()) as { error: { code: string } }).error.code, 'E_UNAUTHORIZED')
  }

  const ok = await connect(t, cluster.url, session.token)
  t.match(await request(ok, 'room:join', { room: 'lobby' }), { ok: true }, 'a valid token still works after all that')
})

t.test('POST /api/sessions input', async (t) => {
  const cluster = await startCluster(t)
  const post = async (body: string, type = 'application/json'): Promise<{ status: number, code: string | undefined }> => {
    const response = await fetch(`${cluster.url}/api/sessions`, { method: 'POST', headers: { 'content-type': type }, body })
    const json = await response.json() as { error?: { code: string } }
    return { status: response.status, code: json.error?.code }
  }
  t.same(await post('{"username":"ok_name.1-2"}'), { status: 201, code: undefined })
  t.same(await post('{"username":"has space"}'), { status: 400, code: 'E_VALIDATION' })
  t.same(await post(`{"username":"${'x'.repeat(33)}"}`), { status: 400, code: 'E_VALIDATION' })
  t.same(await post('{"username":'), { status: 400, code: 'E_VALIDATION' })
  t.same(await post('{}'), { status: 400, code: 'E_VALIDATION' })
  t.same(await post('username=alice', 'application/x-www-form-urlencoded'), { status: 415, code: 'E_VALIDATION' })
  t.same(await post('{"username":"alice"}', 'text/plain'), { status: 415, code: 'E_VALIDATION' })
  t.same(await post(JSON.stringify({ username: 'alice', pad: 'x'.repeat(20_000) })), { status: 413, code: 'E_TOO_LARGE' })
})

t.test('SESSIONS_ROUTE=false turns sign-in off; tokens minted elsewhere still work', async (t) => {
  const cluster = await startCluster(t, { env: { SESSIONS_ROUTE: 'false' } })
  const response = await fetch(`${cluster.url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"alice"}' })
  t.equal(response.status, 404)
  const token = createSigner({ key: TEST_SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'external-user-1', name: 'external' })
  const socket = await connect(t, cluster.url, token)
  t.match(await request(socket, 'room:join', { room: 'lobby' }), { ok: true, members: [{ userId: 'external-user-1', username: 'external' }] })
})
