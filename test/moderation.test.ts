import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { HistoryOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, collectMessages, connect, eventually, metric, request, signIn } from './helpers/client.js'

/** Moderation in the running service: reject, mask, a configured term list, long texts on the pool. */

// Limits off for one client's deliberate bursts, the send-wait limit included: 120 worst-case
// texts from one socket are checked one after another, so the last ones wait in that socket's
// queue for longer than SHED_SEND_WAIT_MS and would be refused E_OVERLOADED.
const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000', SOCKET_MAX_QUEUED_EVENTS: '500', SHED_SEND_WAIT_MS: '0' }

t.test('reject policy answers E_MODERATED and stores nothing', async (t) => {
  const cluster = await startCluster(t, { env: { MODERATION_POLICY: 'reject' } })
  const socket = await connect(t, cluster.url, (await signIn(cluster.url, 'alice')).token)
  await request(socket, 'room:join', { room: 'mod' })
  t.match(await request(socket, 'message:send', { room: 'mod', text: 'you f.u.c.k', clientMsgId: clientMsgId() }), { ok: false, error: { code: 'E_MODERATED' } })
  t.match(await request(socket, 'message:send', { room: 'mod', text: 'a classic assumption', clientMsgId: clientMsgId() }), { ok: true, seq: 1 })
  const history = await request<HistoryOk>(socket, 'history', { room: 'mod' })
  t.same(history.ok && history.messages.map((m) => m.text), ['a classic assumption'])
})

t.test('mask policy with a configured term list stores and broadcasts the masked text', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-terms-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const terms = join(dir, 'terms.txt')
  writeFileSync(terms, '# house list\nbanana*\nsecret phrase\n')
  const cluster = await startCluster(t, { env: { MODERATION_POLICY: 'mask', MODERATION_TERMS_FILE: terms } })
  const alice = await connect(t, cluster.url, (await signIn(cluster.url, 'alice')).token)
  const bob = await connect(t, cluster.url, (await signIn(cluster.url, 'bob')).token)
  await request(alice, 'room:join', { room: 'mod' })
  await request(bob, 'room:join', { room: 'mod' })
  const inbox = collectMessages(bob)
  t.match(await request(alice, 'message:send', { room: 'mod', text: 'B4N4N4S and the Secret  Phrase, shit', clientMsgId: clientMsgId() }), { ok: true })
  await eventually(() => inbox.length === 1)
  t.equal(inbox[0]?.text, '******* and the **************, shit', 'only the configured terms are masked')
})

t.test('long texts are checked on the pool; a flood of worst-case texts leaves the worker serving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-terms-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const terms = join(dir, 'terms.txt')
  writeFileSync(terms, Array.from({ length: 20_000 }, (_, i) => `*z${i.toString(36)}q*`).join('\n'))
  const cluster = await startCluster(t, { workers: 1, env: { ...FAST, MODERATION_TERMS_FILE: terms, POOL_INLINE_MAX_CODE_POINTS: '256' } })
  const flooder = await connect(t, cluster.url, (await signIn(cluster.url, 'flooder')).token)
  const other = await connect(t, cluster.url, (await signIn(cluster.url, 'other')).token)
  await request(flooder, 'room:join', { room: 'heavy' })
  await request(other, 'room:join', { room: 'heavy' })

  const pooledBefore = await metric(cluster.opsUrl, 'chat_pool_tasks_total', { task: 'checkText', mode: 'pool' })
  const worst = ['ab'.repeat(1000), 'a '.repeat(1000), 'z'.repeat(2000)]
  const sends = Array.from({ length: 120 }, async (_, i) => await request(flooder, 'message:send', { room: 'heavy', text: worst[i % worst.length], clientMsgId: clientMsgId() }, 60_000))
  // The other user is served while the flood is being checked.
  const answeredDuringFlood: boolean[] = []
  let floodDone = false
  void Promise.all(sends).then(() => { floodDone = true })
  for (let i = 0; i < 20; i++) {
    t.match(await request(other, 'message:send', { room: 'heavy', text: `short ${i}`, clientMsgId: clientMsgId() }), { ok: true })
    answeredDuringFlood.push(!floodDone)
  }
  const results = await Promise.all(sends)
  t.ok(results.every((ack) => ack.ok), 'every worst-case text was accepted and stored')
  t.ok(answeredDuringFlood.some(Boolean), 'short sends were answered while the flood was still in progress')
  const pooled = await metric(cluster.opsUrl, 'chat_pool_tasks_total', { task: 'checkText', mode: 'pool' }) - pooledBefore
  t.equal(pooled, 120, 'every long text ran on the pool, none on the event loop')
  t.equal(await metric(cluster.opsUrl, 'chat_pool_tasks_total', { task: 'checkText', mode: 'inline' }), 20, 'short texts ran inline')
})
