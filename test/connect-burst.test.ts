import t from 'tap'
import { io } from 'socket.io-client'
import { startCluster } from './helpers/cluster.js'
import { signIn } from './helpers/client.js'

/**
 * Hundreds of websocket connections opened as fast as possible, right at start-up and right
 * after a worker respawn: every one completes its Socket.IO CONNECT (the documented sticky
 * recipe loses 1–2 % of them).
 */

const BURST = 400

async function burst (t: { teardown: (fn: () => unknown) => void }, url: string, token: string): Promise<{ connected: number, failed: string[] }> {
  const failed: string[] = []
  let connected = 0
  await Promise.all(Array.from({ length: BURST }, async () => {
    const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20_000 })
    t.teardown(() => { socket.close() })
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { failed.push('no CONNECT answer in 20 s'); resolve() }, 20_000)
      socket.once('connect', () => { connected++; clearTimeout(timer); resolve() })
      socket.once('connect_error', (error) => { failed.push(error.message); clearTimeout(timer); resolve() })
    })
  }))
  return { connected, failed }
}

t.test('a connect burst at start-up and after a respawn: every CONNECT answered', async (t) => {
  // One user opens all of them from one address: per-user and per-address caps off for this.
  const cluster = await startCluster(t, { env: { MAX_CONNECTIONS: '100000', MAX_SOCKETS_PER_USER: '0', MAX_HEADS_PER_IP: '0' } })
  const { token } = await signIn(cluster.url, 'burst')
  const first = await burst(t, cluster.url, token)
  t.same(first, { connected: BURST, failed: [] }, 'at start-up')

  const original = cluster.workerPids()
  process.kill(original[0] as number, 'SIGKILL')
  await cluster.waitForLog((line) => line.msg === 'worker died; respawning')
  await cluster.waitForLog((line) => line.msg === 'worker ready' && !original.includes(line.workerPid as number))
  const second = await burst(t, cluster.url, token)
  t.same(second, { connected: BURST, failed: [] }, 'right after a respawn')
})
