import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type BrowserContextOptions, type Page } from 'playwright-core'
import t from 'tap'
import { CHROMIUM, CHROMIUM_ARGS, openPage, SCREENSHOTS } from './helpers/browser.js'
import { ROOT, startCluster } from './helpers/cluster.js'
import { metric } from './helpers/client.js'
import { startLibraryClient } from './helpers/library-client.js'

/**
 * The web client in Debian's headless Chromium against the real cluster: two people chat both
 * ways from different workers, markup in a message stays text, a page open across a service
 * restart shows the reconnect banner and then every message sent meanwhile once and in order,
 * a rate-limited send counts down, scrolling up loads older history. Screenshots of the
 * conversation go to .tap/screenshots/ (and to docs/screenshot.png for the README when that is
 * missing or UPDATE_SCREENSHOT=1).
 */

const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000' }
const PHONE: BrowserContextOptions = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }

/** Signs in through the form with the mouse and waits until the page is online in its room. */
async function signIn (page: Page, username: string): Promise<void> {
  await page.getByLabel('Username').fill(username)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await online(page)
}

async function online (page: Page): Promise<void> {
  await page.locator('body[data-connection="online"]').waitFor({ state: 'attached' })
}

async function messageTexts (page: Page): Promise<string[]> {
  return await page.locator('#messages > li .text').allTextContents()
}

async function waitForTexts (page: Page, count: number): Promise<string[]> {
  await page.waitForFunction((n) => document.querySelectorAll('#messages > li:not(.unsent)').length >= n, count)
  return await messageTexts(page)
}

function saveScreenshot (name: string, png: Buffer): string {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const path = join(SCREENSHOTS, name)
  writeFileSync(path, png)
  return path
}

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests`)
} else {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 })
  t.teardown(() => browser.close())

  t.test('two people on different workers chat both ways; markup stays text', async (t) => {
    const cluster = await startCluster(t)
    const alice = await openPage(t, browser, `${cluster.url}/?room=lobby`)
    const bob = await openPage(t, browser, `${cluster.url}/#lobby`, PHONE)

    // Alice uses the keyboard only: the name field has focus, Enter signs in, then the
    // message box has focus and Enter sends.
    await alice.page.waitForFunction(() => document.activeElement?.id === 'username')
    await alice.page.keyboard.type('alice')
    await alice.page.keyboard.press('Enter')
    await online(alice.page)
    await alice.page.waitForFunction(() => document.activeElement?.id === 'message-input')
    await signIn(bob.page, 'bob')
    t.equal(await alice.page.locator('#room-title').textContent(), 'lobby', 'the room comes from ?room=')
    t.equal(await bob.page.locator('#room-title').textContent(), 'lobby', 'and from #room')

    t.equal(await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }), 1, 'one page on worker 1')
    t.equal(await metric(cluster.opsUrl, 'chat_connections', { worker: '2' }), 1, 'the other on worker 2')

    await alice.page.keyboard.type('Hi Bob! Ready for the demo?')
    await alice.page.keyboard.press('Enter')
    await waitForTexts(bob.page, 1)
    await bob.page.getByLabel('Message', { exact: true }).fill('Yes, all set. Sending a tricky one next.')
    await bob.page.getByRole('button', { name: 'Send' }).click()
    const injection = '<img src=x onerror="document.body.dataset.pwned = 1">'
    await bob.page.getByLabel('Message', { exact: true }).fill(injection)
    await bob.page.keyboard.press('Enter')
    await waitForTexts(alice.page, 3)
    await alice.page.keyboard.type('It shows as plain text here.')
    await alice.page.keyboard.press('Enter')

    const expected = ['Hi Bob! Ready for the demo?', 'Yes, all set. Sending a tricky one next.', injection, 'It shows as plain text here.']
    for (const { page } of [alice, bob]) {
      t.same(await waitForTexts(page, 4), expected, 'both see the conversation in order')
      t.same(await page.locator('#messages > li .author').allTextContents(), ['alice', 'bob', 'bob', 'alice'], 'with authors')
      t.equal(await page.locator('#messages > li time').count(), 4, 'and times')
      t.equal(await page.locator('#messages img').count(), 0, 'the markup made no element')
      t.equal(await page.evaluate(() => document.body.dataset.pwned), undefined, 'and ran nothing')
    }
    await alice.page.locator('#messages > li.own .status', { hasText: 'Delivered' }).nth(1).waitFor()
    t.equal(await alice.page.locator('#messages > li.own .status', { hasText: 'Delivered' }).count(), 2, 'own messages show as delivered')

    await alice.page.locator('#members li.online', { hasText: 'bob' }).waitFor()
    t.pass('alice sees bob among the online members')
    await bob.page.getByLabel('Message', { exact: true }).fill('typing something')
    await alice.page.locator('#typing', { hasText: 'bob is typing' }).waitFor()
    t.pass('alice sees that bob is typing')

    t.ok(await bob.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing overflows a 360 px wide phone screen')
    t.same([...alice.problems, ...bob.problems], [], 'no CSP violation and no page error')

    const saved = saveScreenshot('web-client-conversation.png', await alice.page.screenshot())
    saveScreenshot('web-client-phone.png', await bob.page.screenshot())
    t.comment(`screenshots in ${SCREENSHOTS}`)
    const readme = join(ROOT, 'docs', 'screenshot.png')
    if (!existsSync(readme) || process.env.UPDATE_SCREENSHOT === '1') copyFileSync(saved, readme)
  })

  t.test('a page open across a service restart shows every message sent meanwhile, once, in order', async (t) => {
    const first = await startCluster(t, { env: FAST })
    const { page, problems } = await openPage(t, browser, `${first.url}/?room=restart`)
    await signIn(page, 'carol')
    const writer = await startLibraryClient(t, first.url, 'dave')
    await writer.client.join('restart')
    for (const text of ['before 1', 'before 2', 'before 3']) await writer.client.send('restart', text)
    await waitForTexts(page, 3)

    // Hold the page's reconnection back (its Socket.IO handshakes start with HTTP polling) so
    // the next messages are surely sent while it is offline.
    await page.route('**/socket.io/**', (route) => route.abort())
    t.equal(await first.stop('SIGTERM'), 0, 'the service stopped')
    await page.locator('#connection-banner').waitFor({ state: 'visible' })
    t.match(await page.locator('#connection-banner').textContent(), /Reconnecting/, 'the page shows the reconnect banner')

    await startCluster(t, { env: FAST, dataDir: first.dataDir, port: first.port })
    const gap = ['gap 1', 'gap 2', 'gap 3', 'gap 4', 'gap 5']
    for (const text of gap) t.match(await writer.client.send('restart', text), { state: 'delivered' })
    t.ok(await page.locator('#connection-banner').isVisible(), 'those were sent while the page was offline')

    await page.unroute('**/socket.io/**')
    await page.locator('#connection-banner').waitFor({ state: 'hidden', timeout: 30_000 })
    await online(page)
    await writer.client.send('restart', 'after')
    t.same(await waitForTexts(page, 9), ['before 1', 'before 2', 'before 3', ...gap, 'after'], 'every message once, in order')
    t.same(problems, [], 'no CSP violation and no page error')
  })

  t.test('a rate-limited send shows a countdown, then goes through', async (t) => {
    const cluster = await startCluster(t, { env: { MESSAGE_RATE_PER_S: '0.2', MESSAGE_BURST: '1' } })
    const { page, problems } = await openPage(t, browser, `${cluster.url}/?room=slow`)
    await signIn(page, 'erin')
    // One message per 5 s plus a burst of one: the third in a row waits.
    for (const text of ['one', 'two', 'three']) {
      await page.getByLabel('Message', { exact: true }).fill(text)
      await page.keyboard.press('Enter')
    }
    const notice = page.locator('#notice')
    await notice.filter({ hasText: /You can send again in \d+ s/ }).waitFor()
    const first = Number(/in (\d+) s/.exec(await notice.textContent() ?? '')?.[1])
    t.ok(first > 0, `the notice counts down from ${first} s`)
    await page.waitForFunction((from) => {
      const seconds = Number(/in (\d+) s/.exec(document.getElementById('notice')?.textContent ?? '')?.[1])
      return seconds > 0 && seconds < from
    }, first)
    t.pass('the countdown goes down while waiting')
    t.match(await page.locator('#messages > li.unsent .status').textContent(), /Waiting to send: You are sending too fast/, 'the waiting message says why')

    t.same(await waitForTexts(page, 3), ['one', 'two', 'three'], 'then the message goes through, once')
    await notice.filter({ hasText: /^$/ }).waitFor({ state: 'attached' })
    t.same(problems, [], 'no CSP violation and no page error')
  })

  t.test('scrolling up loads older history', async (t) => {
    const cluster = await startCluster(t, { env: FAST })
    const writer = await startLibraryClient(t, cluster.url, 'frank')
    await writer.client.join('archive')
    await Promise.all(Array.from({ length: 70 }, (_, i) => writer.client.send('archive', `m${i + 1}`)))
    const { page, problems } = await openPage(t, browser, `${cluster.url}/?room=archive`)
    await signIn(page, 'grace')

    const latest = await waitForTexts(page, 50)
    t.same(latest, Array.from({ length: 50 }, (_, i) => `m${i + 21}`), 'the latest 50 first')
    await page.locator('#log').evaluate((log) => { log.scrollTop = 0 })
    t.same(await waitForTexts(page, 70), Array.from({ length: 70 }, (_, i) => `m${i + 1}`), 'then the older ones above them, in order')
    t.ok(await page.locator('#load-older').isHidden(), 'and nothing more to load')
    t.same(problems, [], 'no CSP violation and no page error')
  })
}
