import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { connect, request, signIn } from './helpers/client.js'

/**
 * Room creation is limited per user: ROOMS_CREATED_PER_HOUR (E_RATE_LIMITED with retryAfterMs)
 * and ROOMS_CREATED_MAX in all (E_FORBIDDEN). A join that creates a room counts; joining an
 * existing room and dm:open do not.
 */

for (const store of STORES) {
  t.test(`hourly quota (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { env: { ROOMS_CREATED_PER_HOUR: '3', ROOMS_CREATED_MAX: '100' } }))
    const alice = await signIn(cluster.url, 'alice')
    const bob = await signIn(cluster.url, 'bob')
    const a = await connect(t, cluster.url, alice.token)
    const b = await connect(t, cluster.url, bob.token)
    t.match(await request(a, 'room:create', { room: 'r1' }), { ok: true })
    t.match(await request(a, 'room:join', { room: 'r2' }), { ok: true, role: 'owner' })
    t.match(await request(a, 'room:create', { room: 'r3', visibility: 'private' }), { ok: true })
    const limited = await request(a, 'room:create', { room: 'r4' })
    t.match(limited, { ok: false, error: { code: 'E_RATE_LIMITED', retryAfterMs: Number } }, 'the fourth creation within the hour')
    const retryAfterMs = limited.ok ? 0 : limited.error.retryAfterMs ?? 0
    t.ok(retryAfterMs > 3_500_000 && retryAfterMs <= 3_600_000, `retryAfterMs is when the oldest creation leaves the hour (${retryAfterMs})`)
    t.match(await request(a, 'room:join', { room: 'r5' }), { ok: false, error: { code: 'E_RATE_LIMITED' } }, 'a join that would create counts too')
    t.match(await request(a, 'room:create', { room: 'r1' }), { ok: false, error: { code: 'E_CONFLICT' } }, 'a conflict is still a conflict')
    t.match(await request(b, 'room:join', { room: 'r5' }), { ok: true, role: 'owner' }, 'other users have their own quota')
    t.match(await request(a, 'room:join', { room: 'r5' }), { ok: true, role: 'member' }, 'joining an existing room is not creating')
    t.match(await request(a, 'dm:open', { userId: bob.userId }), { ok: true }, 'a direct-message room is not counted')
  })
}
for (const store of STORES) {
  t.test(`total quota (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { env: { ROOMS_CREATED_PER_HOUR: '50', ROOMS_CREATED_MAX: '2' } }))
    const carol = await signIn(cluster.url, 'carol')
    const c = await connect(t, cluster.url, carol.token)
    t.match(await request(c, 'room:create', { room: 'c1' }), { ok: true })
    t.match(await request(c, 'room:create', { room: 'c2' }), { ok: true })
    t.match(await request(c, 'room:create', { room: 'c3' }), { ok: false, error: { code: 'E_FORBIDDEN', message: /at most 2 rooms/ } })
    t.match(await request(c, 'room:join', { room: 'c3' }), { ok: false, error: { code: 'E_FORBIDDEN' } })
    t.match(await request(c, 'room:join', { room: 'c1' }), { ok: true })
  })
}