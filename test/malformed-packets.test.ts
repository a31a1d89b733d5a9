import t from 'tap'
import WebSocket from 'ws'
import { startCluster } from './helpers/cluster.js'
import { connect, request, signIn } from './helpers/client.js'

/**
 * Clients we do not control send broken Socket.IO packets; each bad payload gets E_VALIDATION
 * in its ack (when it has an ack id) and the connection stays up. A frame over the size cap is
 * refused at the transport (close 1009) and only that connection is affected.
 */

interface RawClient {
  socket: WebSocket
  next: () => Promise<string>
  send: (frame: string) => void
  closed: Promise<number>
}

async function rawConnect (t: { teardown: (fn: () => unknown) => void }, url: string, token: string): Promise<RawClient> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`)
  t.teardown(() => socket.terminate())
  const queue: string[] = []
  const waiters: Array<(frame: string) => void> = []
  socket.on('message', (data) => {
    const frame = String(data)
    if (frame === '2') { socket.send('3'); return } // answer pings
    const waiter = waiters.shift()
    if (waiter !== undefined) waiter(frame)
    else queue.push(frame)
  })
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  const next = async (): Promise<string> => {
    const queued = queue.shift()
    if (queued !== undefined) return queued
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame within 5 s')), 5000)
      waiters.push((frame) => { clearTimeout(timer); resolve(frame) })
    })
  }
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  const open = await next()
  if (!open.startsWith('0{')) throw new Error(`expected an open packet, got ${open}`)
  socket.send(`40${JSON.stringify({ token })}`)
  const connected = await next()
  if (!connected.startsWith('40{')) throw new Error(`expected CONNECT, got ${connected}`)
  return { socket, next, send: (frame) => socket.send(frame), closed }
}

t.test('broken packets are answered E_VALIDATION without closing the connection', async (t) => {
  const cluster = await startCluster(t)
  const { token } = await signIn(cluster.url, 'raw')
  const raw = await rawConnect(t, cluster.url, token)

  raw.send('427["room:join",{"room":')
  t.match(await raw.next(), /^437\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'truncated JSON with an ack id')
  raw.send('428["disconnect",{}]')
  t.match(await raw.next(), /^438\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'reserved event name')
  raw.send('429[]')
  t.match(await raw.next(), /^439\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'empty event array')
  raw.send('4210{"room":"x"}')
  t.match(await raw.next(), /^4310\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'payload that is not an array')
  raw.send('42["room:join",{') // no ack id: ignored
  raw.send('4211["room:join",{"room":"still-alive"}]')
  t.match(await raw.next(), /^4311\[\{"ok":true,"room":"still-alive"/, 'the connection still serves')
  t.equal(raw.socket.readyState, WebSocket.OPEN)
})

t.test('binary packets with a bad attachment count are answered E_VALIDATION; the connection stays', async (t) => {
  const cluster = await startCluster(t)
  const { token } = await signIn(cluster.url, 'binary')
  const raw = await rawConnect(t, cluster.url, token)

  raw.send('450-21["room:join",{"room":"bin"}]')
  t.match(await raw.next(), /^4321\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'zero attachments')
  raw.send('45x-22["room:join",{"room":"bin"}]')
  t.match(await raw.next(), /^4322\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'a count that is not a number')
  raw.send('4599-23["room:join",{"room":"bin"}]')
  t.match(await raw.next(), /^4323\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'more attachments than allowed')
  raw.socket.send(Buffer.from([1, 2, 3])) // one of the attachments it announced: nobody waits for it
  raw.send('4524["room:join",{"room":"bin"}]')
  t.match(await raw.next(), /^4324\[\{"ok":false,"error":\{"code":"E_VALIDATION"/, 'no count at all')
  raw.send('451-25["room:join",{"_placeholder":true,"num":0}]')
  raw.send('4226["room:join",{"room":"bin"}]') // text where the announced attachment should be
  t.match(await raw.next(), /^4326\[\{"ok":true,"room":"bin"/, 'a binary event short of its attachment is dropped, the next event served')
  raw.send('4227["room:join",{"room":"bin-2"}]')
  let ack = await raw.next()
  while (ack.startsWith('42["presence"')) ack = await raw.next() // this socket's own presence in "bin"
  t.match(ack, /^4327\[\{"ok":true,"room":"bin-2"/, 'the connection still serves')
  t.equal(raw.socket.readyState, WebSocket.OPEN)
})

t.test('a frame over the size cap closes only that connection (1009)', async (t) => {
  const cluster = await startCluster(t, { env: { MAX_HTTP_BUFFER_SIZE: String(16 * 1024) } })
  const { token } = await signIn(cluster.url, 'big')
  const bystander = await connect(t, cluster.url, (await signIn(cluster.url, 'bystander')).token)
  const raw = await rawConnect(t, cluster.url, token)
  raw.send(`421["message:send",{"room":"x","text":"${'y'.repeat(20_000)}","clientMsgId":"abcdefgh"}]`)
  t.equal(await raw.closed, 1009, 'closed with 1009 Message Too Big')
  t.match(await request(bystander, 'room:join', { room: 'calm' }), { ok: true }, 'another client is unaffected')
})
