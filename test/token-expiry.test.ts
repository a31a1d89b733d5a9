import t from 'tap'
import type { AuthRefreshOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { connect, eventually, metric, renew, request, signIn } from './helpers/client.js'

/**
 * A token's expiry ends its socket's session ("io server disconnect": the client must sign in
 * again) unless the client refreshed it with `auth:refresh`; either way nothing is left behind.
 */

t.test('expired sessions are disconnected; refreshed ones stay', async (t) => {
  const cluster = await startCluster(t, { env: { TOKEN_TTL_S: '2', PRESENCE_GRACE_MS: '0' } })
  const stale = await signIn(cluster.url, 'stale')
  const fresh = await signIn(cluster.url, 'fresh')
  const staleSocket = await connect(t, cluster.url, stale.token)
  const freshSocket = await connect(t, cluster.url, fresh.token)
  await request(staleSocket, 'room:join', { room: 'ttl' })
  await request(freshSocket, 'room:join', { room: 'ttl' })
  const reasons: string[] = []
  staleSocket.on('disconnect', (reason) => reasons.push(reason))

  // Keep the fresh socket's session alive by refreshing before each expiry.
  let refreshing = true
  let current = fresh
  const refresher = (async () => {
    while (refreshing) {
      await new Promise((resolve) => setTimeout(resolve, 700))
      current = await renew(cluster.url, current.token)
      const ack = await request<AuthRefreshOk>(freshSocket, 'auth:refresh', { token: current.token })
      if (!ack.ok) throw new Error(`refresh failed: ${ack.error.code}`)
    }
  })()

  await eventually(() => reasons.length === 1, 15_000)
  t.same(reasons, ['io server disconnect'], 'the expired session is ended by the server (no automatic reconnect)')
  t.equal(await metric(cluster.opsUrl, 'chat_token_expiry_disconnects_total'), 1, 'counted')
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.ok(freshSocket.connected, 'a refreshed session outlives its first token')
  refreshing = false
  await refresher
  t.match(await request(freshSocket, 'room:join', { room: 'ttl' }), { ok: true, members: [{ username: 'fresh' }] }, 'the expired user left the room and its presence')
})
