import t from 'tap'
import type { Member, Message } from '../src/protocol/schemas.js'
import { clientMsgId, collectMessages, connect, eventually, metric, request, signIn, type ChatClient } from './helpers/client.js'
import { seqReport, startBackends, startVm } from './helpers/multi-vm.js'

/**
 * Two VMs (two clusters on their own ports) sharing one PostgreSQL and one Redis: users on
 * different VMs chat both ways and every member gets every message once, in seq order; a resend
 * through the other VM answers the first id and seq; history and `since` agree on both VMs;
 * presence, typing and deletions cross between VMs. VM A has one worker (it commits its own
 * writes); VM B has two (its primary commits), so both writer placements publish.
 */

t.test('users on two VMs chat both ways', async (t) => {
  const backends = await startBackends(t)
  const a = await startVm(t, backends, { workers: 1 })
  const b = await startVm(t, backends, { workers: 2 })

  const alice = await signIn(a.url, 'alice')
  const bob = await signIn(b.url, 'bob')
  const carol = await signIn(b.url, 'carol')
  const sockets: Array<{ name: string, socket: ChatClient, received: Message[] }> = []
  for (const [name, url, session] of [['alice', a.url, alice], ['bob', b.url, bob], ['carol', b.url, carol]] as const) {
    const socket = await connect(t, url, session.token)
    const received = collectMessages(socket)
    const joined = await request(socket, 'room:join', { room: 'across' })
    t.ok(joined.ok, `${name} joined`)
    sockets.push({ name, socket, received })
  }

  // Presence agrees: each VM lists all three once they are in.
  for (const { name, socket } of sockets) {
    let members: Member[] = []
    await eventually(() => {
      void request<{ members: Member[] }>(socket, 'room:join', { room: 'across' }).then((ack) => { if (ack.ok) members = ack.members }, () => {})
      return members.length === 3
    }, 15_000, 300)
    t.same(new Set(members.map((member) => member.username)), new Set(['alice', 'bob', 'carol']), `${name} sees everyone online`)
  }

  // Interleaved sends from both VMs.
  const sent: Array<{ clientMsgId: string, id: string, seq: number, sender: string }> = []
  const sends: Array<Promise<void>> = []
  for (let i = 0; i < 60; i++) {
    const sender = sockets[i % 3] as typeof sockets[number]
    const id = clientMsgId()
    sends.push(request<{ id: string, seq: number }>(sender.socket, 'message:send', { room: 'across', text: `m${i} from ${sender.name}`, clientMsgId: id }).then((ack) => {
      if (ack.ok) sent.push({ clientMsgId: id, id: ack.id, seq: ack.seq, sender: sender.name })
    }))
  }
  await Promise.all(sends)
  t.equal(sent.length, 60, 'every send acked')
  const seqs = sent.map((entry) => entry.seq).sort((x, y) => x - y)
  t.same(seqs, Array.from({ length: 60 }, (_, i) => i + 1), 'seq is gapless across both VMs\' writers')

  for (const { name, received } of sockets) {
    await eventually(() => received.length >= 60, 15_000)
    const report = seqReport(received)
    t.equal(received.length, 60, `${name} got every message`)
    t.equal(report.duplicates, 0, `${name} got none twice`)
    t.ok(report.ordered && report.gapless, `${name} got them in seq order`)
  }

  // A resend through the other VM answers the first id and seq.
  const first = sent.find((entry) => entry.sender === 'alice') as typeof sent[number]
  const elsewhere = await connect(t, b.url, alice.token)
  t.ok((await request(elsewhere, 'room:join', { room: 'across' })).ok)
  const resend = await request<{ id: string, seq: number }>(elsewhere, 'message:send', { room: 'across', text: 'again', clientMsgId: first.clientMsgId })
  t.ok(resend.ok && resend.id === first.id && resend.seq === first.seq, 'alice\'s resend through VM B answers the first id and seq')

  // History and since agree on both VMs.
  const pages: Message[][] = []
  for (const url of [a.url, b.url]) {
    const response = await fetch(`${url}/api/rooms/across/messages?limit=100`, { headers: { authorization: `Bearer ${alice.token}` } })
    const page = await response.json() as { messages: Message[] }
    pages.push(page.messages)
  }
  t.equal(pages[0]?.length, 60)
  t.same(pages[0], pages[1], 'both VMs return the same history')
  const sinceA = await request<{ missed: Message[] }>((sockets[0] as typeof sockets[number]).socket, 'room:join', { room: 'across', since: 50 })
  const sinceB = await request<{ missed: Message[] }>((sockets[1] as typeof sockets[number]).socket, 'room:join', { room: 'across', since: 50 })
  t.ok(sinceA.ok && sinceB.ok)
  if (sinceA.ok && sinceB.ok) t.same(sinceA.missed.map((m) => m.id), sinceB.missed.map((m) => m.id), 'since agrees on both VMs')

  // Typing and deletions cross VMs.
  const typed = new Promise<{ username: string }>((resolve) => (sockets[0] as typeof sockets[number]).socket.once('typing', resolve))
  t.ok((await request((sockets[1] as typeof sockets[number]).socket, 'typing', { room: 'across', typing: true })).ok)
  t.equal((await typed).username, 'bob', 'alice on VM A sees bob on VM B typing')
  const deleted = new Promise<{ id: string }>((resolve) => (sockets[1] as typeof sockets[number]).socket.once('message:deleted', resolve))
  const alicesMessage = (sockets[0] as typeof sockets[number]).received.find((message) => message.username === 'alice') as Message
  t.ok((await request((sockets[0] as typeof sockets[number]).socket, 'message:delete', { room: 'across', id: alicesMessage.id })).ok)
  t.equal((await deleted).id, alicesMessage.id, 'bob on VM B hears alice\'s deletion on VM A')

  // Presence going away crosses too: carol leaves VM B, alice on VM A sees her offline.
  const offline = new Promise<{ username: string, status: string }>((resolve) => {
    (sockets[0] as typeof sockets[number]).socket.on('presence', (event) => { if (event.username === 'carol' && event.status === 'offline') resolve(event) })
  });
  (sockets[2] as typeof sockets[number]).socket.disconnect()
  t.equal((await offline).status, 'offline', 'alice sees carol go offline on the other VM')

  t.ok(await metric(a.opsUrl, 'chat_crossvm_messages_received_total') > 0, 'VM A received messages through Redis')
  t.equal(await metric(b.opsUrl, 'chat_redis_connected', { role: 'subscriber' }), 2, 'both workers of VM B report their subscription up')
})
