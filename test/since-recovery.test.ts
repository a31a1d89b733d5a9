import t from 'tap'
import type { HistoryOk, RoomJoinOk } from '../src/protocol/events.js'
import type { Message } from '../src/protocol/schemas.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, connect, request, signIn } from './helpers/client.js'

/** `since` recovery after a disconnect, history paging and the REST pages, all over the store. */

for (const store of STORES) {
  t.test(`recovery with since, history paging and REST pages (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { env: { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000' } }))
    const writer = await signIn(cluster.url, 'writer')
    const reader = await signIn(cluster.url, 'reader')
    const w = await connect(t, cluster.url, writer.token)
    await request(w, 'room:join', { room: 'pages' })
    for (let i = 1; i <= 250; i++) {
      const ack = await request(w, 'message:send', { room: 'pages', text: `message ${i}`, clientMsgId: clientMsgId() })
      if (!ack.ok) t.fail(`send ${i} failed`)
    }

    const r = await connect(t, cluster.url, reader.token)
    const recent = await request<RoomJoinOk>(r, 'room:join', { room: 'pages' })
    t.ok(recent.ok)
    if (!recent.ok) return
    t.equal(recent.seq, 250)
    t.same(recent.missed.map((m) => m.seq), range(201, 250), 'join without since: the latest 50, oldest first')
    t.equal(recent.hasMore, true)

    // A client that saw up to 120 reconnects: 100 at a time until complete.
    const seen: Message[] = []
    let since = 120
    for (;;) {
      const ack = await request<RoomJoinOk>(r, 'room:join', { room: 'pages', since })
      if (!ack.ok) { t.fail('rejoin failed'); return }
      seen.push(...ack.missed)
      t.ok(ack.missed.length <= 100)
      if (!ack.hasMore) break
      since = ack.missed.at(-1)!.seq
    }
    t.same(seen.map((m) => m.seq), range(121, 250), 'since recovery misses nothing and repeats nothing')
    // Every 1.0 field as it was (1.1 only adds fields: visibility, role, staff, direct).
    const caughtUp = await request<RoomJoinOk>(r, 'room:join', { room: 'pages', since: 250 })
    const { visibility, role, staff, direct, ...fields1v0 } = caughtUp as RoomJoinOk & { ok: true }
    t.same(fields1v0, { ok: true, room: 'pages', seq: 250, missed: [], hasMore: false, members: recent.members })
    t.same({ visibility, role, direct }, { visibility: 'public', role: 'member', direct: false })
    t.equal(staff?.length, 1, 'the owner (the room was made by a join)')

    // history pages backwards: newest page first, each page ascending.
    const pages: number[][] = []
    let before: number | undefined
    for (;;) {
      const ack = await request<HistoryOk>(r, 'history', before === undefined ? { room: 'pages', limit: 100 } : { room: 'pages', before, limit: 100 })
      if (!ack.ok) { t.fail('history failed'); return }
      pages.push(ack.messages.map((m) => m.seq))
      if (!ack.hasMore) break
      before = ack.messages[0]!.seq
    }
    t.same(pages, [range(151, 250), range(51, 150), range(1, 50)])
    const defaultPage = await request<HistoryOk>(r, 'history', { room: 'pages', before: 10 })
    t.same(defaultPage.ok && defaultPage.messages.map((m) => m.seq), range(1, 9))
    t.equal(defaultPage.ok && defaultPage.hasMore, false)

    // REST pages, any signed-in user.
    const get = async (query: string): Promise<{ status: number, body: any }> => {
      const response = await fetch(`${cluster.url}/api/rooms/pages/messages${query}`, { headers: { authorization: `Bearer ${reader.token}` } })
      return { status: response.status, body: await response.json() }
    }
    const newest = await get('?limit=5')
    t.same(newest.body.messages.map((m: Message) => m.seq), range(246, 250))
    t.equal(newest.body.hasMore, true)
    const forward = await get('?after=240&limit=100')
    t.same(forward.body.messages.map((m: Message) => m.seq), range(241, 250))
    t.equal(forward.body.hasMore, false)
    const window = await get('?after=10&before=15')
    t.same(window.body.messages.map((m: Message) => m.seq), range(11, 14))
    t.equal((await get('?limit=0')).status, 400)
    t.equal((await get('?before=abc')).body.error.code, 'E_VALIDATION')
    const missing = await fetch(`${cluster.url}/api/rooms/nowhere/messages`, { headers: { authorization: `Bearer ${reader.token}` } })
    t.equal(missing.status, 404)
    t.equal((await fetch(`${cluster.url}/api/rooms/pages/messages`)).status, 401)
  })
}
function range (from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}
