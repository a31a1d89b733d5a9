import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { connect, connectError, metric, signIn } from './helpers/client.js'

/**
 * Connection quotas, counted by the primary over every worker: sockets per user
 * (MAX_SOCKETS_PER_USER) and open connections per client address (MAX_CONNECTIONS_PER_IP). The
 * excess gets `E_OVERLOADED` with `retryAfterMs`; a closed connection frees its slot.
 */

async function admittedAgain (t: Parameters<typeof connect>[0], url: string, token: string, options: object = {}): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    try {
      await connect(t, url, token, options, { retryOverloaded: false })
      return true
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return false
}

t.test('sockets per user, across workers', async (t) => {
  const cluster = await startCluster(t, { env: { MAX_SOCKETS_PER_USER: '2', OVERLOAD_RETRY_AFTER_MS: '1000' } })
  const hana = await signIn(cluster.url, 'hana')
  const first = await connect(t, cluster.url, hana.token)
  await connect(t, cluster.url, hana.token)
  t.same([await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }), await metric(cluster.opsUrl, 'chat_connections', { worker: '2' })], [1, 1], 'one on each worker')
  const refused = await connectError(t, cluster.url, hana.token)
  t.equal(refused.data?.code, 'E_OVERLOADED', 'the third socket of the user is refused')
  t.ok((refused.data?.retryAfterMs ?? 0) > 0, 'with a retry delay')
  t.ok(await metric(cluster.opsUrl, 'chat_connections_rejected_total', { reason: 'user_sockets' }) >= 1, 'counted')
  t.ok((await connect(t, cluster.url, (await signIn(cluster.url, 'ivan')).token)).connected, 'another user is admitted')
  first.close()
  t.ok(await admittedAgain(t, cluster.url, hana.token), 'a closed socket frees its slot')
})

t.test('open connections per client address', async (t) => {
  const cluster = await startCluster(t, { env: { MAX_CONNECTIONS_PER_IP: '3' } })
  const sockets = []
  for (let i = 0; i < 3; i++) sockets.push(await connect(t, cluster.url, (await signIn(cluster.url, `user${i}`)).token))
  const extra = await signIn(cluster.url, 'extra')
  t.equal((await connectError(t, cluster.url, extra.token)).data?.code, 'E_OVERLOADED', 'the fourth connection from one address is refused')
  t.ok(await metric(cluster.opsUrl, 'chat_connections_rejected_total', { reason: 'ip_connections' }) >= 1, 'counted')
  t.ok((await connect(t, cluster.url, extra.token, { localAddress: '127.0.0.2' } as object)).connected, 'another address has its own quota')
  sockets[0]?.close()
  t.ok(await admittedAgain(t, cluster.url, extra.token), 'a closed connection frees its slot')
})
