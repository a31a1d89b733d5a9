import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import type { MessageSendOk } from '../src/protocol/events.js'
import { startCluster, type LogLine } from './helpers/cluster.js'
import { clientMsgId, connect, request, signIn } from './helpers/client.js'

/**
 * The store's directory is read-only or full, or a migration fails: the service refuses to start
 * or answers sends E_INTERNAL with a clear log line, and never acks a message it did not store.
 * (A filesystem cannot be remounted read-only under an open database; a write failure while
 * serving is exercised by the full disk.)
 * Read-only and full filesystems are real ones: small tmpfs mounts (the tests need root, as CI
 * has; elsewhere they are skipped, saying why).
 */

function canMount (): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'chat-mount-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
}

function tmpfs (t: { teardown: (fn: () => unknown) => void }, sizeKb: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-tmpfs-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir])
  t.teardown(() => {
    try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }) } catch {}
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

const remount = (dir: string, mode: 'ro' | 'rw'): void => { execFileSync('mount', ['-o', `remount,${mode}`, dir]) }
const mountable = canMount()
const skip = mountable ? false : 'needs root and tmpfs mounts (CI runs as root)'

t.test('a read-only data directory: the service refuses to start', { skip }, async (t) => {
  const dir = tmpfs(t, 1024)
  remount(dir, 'ro')
  const error = await startCluster(t, { dataDir: dir }).then(() => undefined, (err: Error & { logs?: LogLine[] }) => err)
  t.match(error?.message, /exited \(1\)/, 'exits 1 instead of listening')
  const fatal = error?.logs?.find((line) => line.level === 60)
  t.match(fatal, { msg: 'cannot open the store; refusing to start', dataDir: dir, err: { message: /read-only|EROFS/ } }, 'one fatal line says why')
})

t.test('a failed migration: the service refuses to start and says why', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-migrate-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(dir, { recursive: true })
  const db = new Database(join(dir, 'chat.sqlite'))
  db.exec('CREATE TABLE users (something_else TEXT)') // collides with migration 1
  db.close()
  const error = await startCluster(t, { dataDir: dir }).then(() => undefined, (err: Error & { logs?: LogLine[] }) => err)
  t.match(error?.message, /exited \(1\)/, 'exits 1')
  t.match(error?.logs?.find((line) => line.level === 60), { msg: 'cannot open the store; refusing to start', err: { message: /users already exists/ } }, 'one fatal line says why')
  t.notOk(error?.logs?.some((line) => line.msg === 'worker forked'), 'no worker was forked')
})

t.test('the disk fills up while serving: sends answered E_INTERNAL, no ack without a stored message', { skip }, async (t) => {
  const dir = tmpfs(t, 1200)
  const cluster = await startCluster(t, { dataDir: dir, env: { MESSAGE_RATE_PER_S: '100000', MESSAGE_BURST: '100000', EVENT_RATE_PER_S: '100000', EVENT_BURST: '100000' } })
  const socket = await connect(t, cluster.url, (await signIn(cluster.url, 'filler')).token)
  await request(socket, 'room:join', { room: 'full' })
  const acked: Array<{ seq: number, id: string }> = []
  let internal = 0
  for (let i = 0; i < 2000 && internal < 20; i++) {
    const id = clientMsgId()
    const ack = await request<MessageSendOk>(socket, 'message:send', { room: 'full', text: `${i} ${'z'.repeat(1900)}`, clientMsgId: id })
    if (ack.ok) acked.push({ seq: ack.seq, id })
    else if (ack.error.code === 'E_INTERNAL') internal++
    else t.fail(`unexpected ${ack.error.code}`)
  }
  t.ok(internal >= 20, `sends are answered E_INTERNAL once the disk is full (${acked.length} stored before)`)
  t.ok(cluster.logs.some((line) => line.msg === 'message not stored' && line.level === 50), 'logged at error level')
  t.equal((await fetch(`${cluster.url}/healthz`)).status, 200, 'the service still answers')
  t.ok(socket.connected, 'the client keeps its connection')
  t.equal(await cluster.stop('SIGTERM'), 0, 'and still shuts down cleanly')

  const db = new Database(join(dir, 'chat.sqlite'), { readonly: true })
  t.teardown(() => db.close())
  const find = db.prepare<[number, string], { n: number }>('SELECT COUNT(*) AS n FROM messages WHERE seq = ? AND client_msg_id = ?')
  t.same(acked.filter((a) => find.get(a.seq, a.id)?.n !== 1), [], `all ${acked.length} acked messages are stored`)
  const { n } = db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }
  t.equal(n, acked.length, 'and nothing else: no message was stored without its ack')
})
