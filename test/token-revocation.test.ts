import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { connect, connectError, eventually, metric, renew, request, signIn } from './helpers/client.js'

/**
 * `DELETE /api/sessions` (PROTOCOL.md 1.1): the token is refused from then on everywhere — REST
 * 401, new handshakes E_UNAUTHORIZED, and its sockets on every worker disconnected within 2 s —
 * while the user's other tokens keep working, and a restart does not forget it.
 */

const REVOCATION_DEADLINE_MS = 2000

t.test('a revoked token is refused everywhere, at once', async (t) => {
  const cluster = await startCluster(t, { env: { WORKERS: '2' } })
  const session = await signIn(cluster.url, 'grace')
  const other = await renew(cluster.url, session.token) // the same user, another token
  const sockets = [await connect(t, cluster.url, session.token), await connect(t, cluster.url, session.token)]
  t.same([await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }), await metric(cluster.opsUrl, 'chat_connections', { worker: '2' })], [1, 1], 'one socket on each worker')
  const bystander = await connect(t, cluster.url, other.token)
  const reasons: string[] = []
  for (const socket of sockets) socket.on('disconnect', (reason) => reasons.push(reason))

  const response = await fetch(`${cluster.url}/api/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${session.token}` } })
  t.equal(response.status, 204, 'revoked')
  t.equal(await response.text(), '')
  const revokedAt = Date.now()
  await eventually(() => reasons.length === 2, REVOCATION_DEADLINE_MS)
  t.ok(Date.now() - revokedAt <= REVOCATION_DEADLINE_MS, 'both sockets, one per worker, disconnected within 2 s')
  t.same(reasons, ['io server disconnect', 'io server disconnect'], 'ended by the server: no automatic reconnect')

  // Every worker refuses it from the moment the DELETE answered (REST goes round-robin over both).
  for (let i = 0; i < 4; i++) {
    const rest = await fetch(`${cluster.url}/api/rooms/lobby/messages`, { headers: { authorization: `Bearer ${session.token}` } })
    t.equal(rest.status, 401, `REST refused (request ${i + 1})`)
  }
  for (let i = 0; i < 2; i++) t.same((await connectError(t, cluster.url, session.token)).data, { code: 'E_UNAUTHORIZED' }, `new handshake refused (${i + 1})`)
  t.equal((await fetch(`${cluster.url}/api/sessions/renew`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } })).status, 401, 'a revoked token cannot be renewed')
  t.equal((await fetch(`${cluster.url}/api/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${session.token}` } })).status, 401, 'nor revoked twice')
  t.equal((await fetch(`${cluster.url}/api/sessions`, { method: 'DELETE' })).status, 401, 'DELETE needs a bearer token')

  t.ok(bystander.connected, "the user's other token is untouched")
  t.match(await request(bystander, 'room:join', { room: 'lobby' }), { ok: true })
  t.equal(await metric(cluster.opsUrl, 'chat_token_revocation_disconnects_total'), 2, 'counted')

  // A restart reads revocations back from the store.
  t.equal(await cluster.stop(), 0)
  const restarted = await startCluster(t, { dataDir: cluster.dataDir, port: cluster.port })
  t.same((await connectError(t, restarted.url, session.token)).data, { code: 'E_UNAUTHORIZED' }, 'still refused after a restart')
  t.ok((await connect(t, restarted.url, other.token)).connected, 'the other token still works after a restart')
})
