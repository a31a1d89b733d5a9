import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { CHROMIUM, CHROMIUM_ARGS, openPage, SCREENSHOTS, type OpenPage } from './helpers/browser.js'
import { startCluster } from './helpers/cluster.js'

/**
 * The web page's rooms and moderation in Debian's headless Chromium against the real cluster:
 * a guest creates a private room, invites another user by the id shown in the member list, names
 * a moderator, both see who is owner and moderator, messages are deleted (own, and any by the
 * owner), a direct message opens from the member list on both sides, and kick and ban notices
 * show; keyboard only where it matters, no CSP violation.
 */


async function openRoomsPage (t: Test, browser: Browser, url: string): Promise<OpenPage> {
  return await openPage(t, browser, url, { viewport: { width: 1100, height: 720 } })
}

async function online (page: Page): Promise<void> {
  await page.locator('body[data-connection="online"]').waitFor({ state: 'attached' })
}

async function texts (page: Page, count: number): Promise<string[]> {
  await page.waitForFunction((n) => document.querySelectorAll('#messages > li:not(.unsent)').length >= n, count)
  return await page.locator('#messages > li .text').allTextContents()
}

async function send (page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text)
  await page.keyboard.press('Enter')
}

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests`)
} else {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 })
  t.teardown(() => browser.close())

  t.test('private room, invitation, roles, deletion, direct messages, kick and ban', async (t) => {
    const cluster = await startCluster(t, { env: { PRESENCE_GRACE_MS: '60000' } })
    const owner = await openRoomsPage(t, browser, `${cluster.url}/?room=lobby`)
    const bob = await openRoomsPage(t, browser, `${cluster.url}/?room=lobby`)

    await owner.page.getByLabel('Username').fill('olivia')
    await owner.page.getByRole('button', { name: 'Continue as guest' }).click()
    await online(owner.page)
    await bob.page.getByLabel('Username').fill('bob')
    await bob.page.getByRole('button', { name: 'Sign in' }).click()
    await online(bob.page)
    const bobId = (await bob.page.locator('#my-id').textContent()) ?? ''
    t.match(bobId, /^[0-9a-f-]{36}$/, "the page shows the user's own id")

    // The owner creates a private room with the keyboard.
    await owner.page.getByLabel('New room').focus()
    await owner.page.keyboard.type('hq')
    await owner.page.getByLabel('Private').check()
    await owner.page.getByLabel('New room').press('Enter')
    await owner.page.locator('#room-title', { hasText: 'hq' }).waitFor()
    await owner.page.locator('#room-kind', { hasText: 'Private room · you are owner' }).waitFor()
    t.pass('the creator is in the private room as its owner')
    await owner.page.locator('#rooms button', { hasText: '#hq' }).waitFor()
    t.pass('the room is among the owner’s rooms')
    await send(owner.page, 'welcome to hq')
    await texts(owner.page, 1)

    await bob.page.getByLabel('Room', { exact: true }).fill('hq')
    await bob.page.getByLabel('Room', { exact: true }).press('Enter')
    await bob.page.locator('#notice', { hasText: 'Cannot join #hq: That is not allowed.' }).waitFor()
    t.pass('a non-member is refused')

    // The owner invites bob by the id copied from bob's page, with the keyboard.
    await owner.page.getByLabel('Invite by user id').fill(bobId)
    await owner.page.getByLabel('Invite by user id').press('Enter')
    await owner.page.locator('#notice.info', { hasText: `Invited ${bobId} to #hq.` }).waitFor()
    t.pass('the invitation is confirmed as news, not as an error')
    await bob.page.getByLabel('Room', { exact: true }).fill('hq')
    await bob.page.getByLabel('Room', { exact: true }).press('Enter')
    t.same(await texts(bob.page, 1), ['welcome to hq'], 'invited, bob joins and reads the room')
    await bob.page.locator('#room-kind', { hasText: /^Private room$/ }).waitFor()
    const ownerItem = bob.page.locator('#members li', { hasText: 'olivia' })
    await ownerItem.locator('.role', { hasText: 'owner' }).waitFor()
    t.pass('bob sees who owns the room')
    t.equal(await bob.page.locator('#messages li .delete').count(), 0, "a member has no delete button on another's message")

    await send(bob.page, 'hello from bob')
    await send(bob.page, 'a second one')
    t.same(await texts(owner.page, 3), ['welcome to hq', 'hello from bob', 'a second one'])
    await texts(bob.page, 3)
    await bob.page.getByRole('button', { name: 'Delete message from bob: a second one' }).click()
    await owner.page.locator('#messages li.deleted', { hasText: 'Message deleted' }).waitFor()
    t.pass('the author deletes own message; everyone sees the tombstone')
    await owner.page.getByRole('button', { name: 'Delete message from bob: hello from bob' }).click()
    await bob.page.locator('#messages li.deleted').nth(1).waitFor()
    t.same(await texts(bob.page, 3), ['welcome to hq', 'Message deleted', 'Message deleted'], "the owner deletes another's message")

    // Roles shown and changed from the member list.
    await owner.page.getByRole('button', { name: 'Make moderator: bob' }).click()
    await bob.page.locator('#room-kind', { hasText: 'Private room · you are moderator' }).waitFor()
    await owner.page.locator('#members li', { hasText: 'bob' }).locator('.role', { hasText: 'moderator' }).waitFor()
    t.pass('both pages show the new moderator')
    mkdirSync(SCREENSHOTS, { recursive: true })
    writeFileSync(join(SCREENSHOTS, 'web-rooms-owner.png'), await owner.page.screenshot())
    t.comment(`screenshot in ${SCREENSHOTS}`)
    t.ok(await bob.page.locator('#invite-form').isVisible(), 'a moderator may invite')
    t.equal(await bob.page.getByRole('button', { name: 'Kick: olivia' }).count(), 0, 'nobody is offered to kick the owner')
    await owner.page.getByRole('button', { name: 'Remove moderator: bob' }).click()
    await bob.page.locator('#room-kind', { hasText: /^Private room$/ }).waitFor()
    t.ok(await bob.page.locator('#invite-form').isHidden(), 'a member may not invite')

    // A direct message from the member list, on both sides.
    await owner.page.getByRole('button', { name: 'Message: bob' }).click()
    await owner.page.locator('#room-kind', { hasText: 'Direct messages' }).waitFor()
    const dmRoom = (await owner.page.locator('#room-title').textContent()) ?? ''
    t.match(dmRoom, /^dm-[0-9a-f]{40}$/)
    await send(owner.page, 'just between us')
    await texts(owner.page, 1)
    await bob.page.getByRole('button', { name: 'Message: olivia' }).click()
    await bob.page.locator('#room-title', { hasText: dmRoom }).waitFor()
    t.same(await texts(bob.page, 1), ['just between us'], 'the same room from the other side')
    await send(bob.page, 'indeed')
    t.same(await texts(owner.page, 2), ['just between us', 'indeed'])

    // Kick, then ban, from the owner's page; bob's page says so.
    await bob.page.locator('#rooms button', { hasText: '#hq' }).click()
    await bob.page.locator('#room-title', { hasText: /^hq$/ }).waitFor()
    await texts(bob.page, 3)
    await owner.page.locator('#rooms button', { hasText: '#hq' }).click()
    await owner.page.locator('#members li.online', { hasText: 'bob' }).waitFor()
    await owner.page.getByRole('button', { name: 'Kick: bob' }).click()
    await bob.page.locator('#notice', { hasText: 'You were removed from #hq by a moderator.' }).waitFor()
    t.equal(await bob.page.locator('#messages > li').count(), 0, 'the kicked page no longer shows the room')
    await bob.page.getByLabel('Room', { exact: true }).fill('hq')
    await bob.page.getByLabel('Room', { exact: true }).press('Enter')
    await bob.page.locator('#notice', { hasText: 'Cannot join #hq: That is not allowed.' }).waitFor()
    t.pass('a private room needs a new invitation after a kick')

    await owner.page.getByLabel('Invite by user id').fill(bobId)
    await owner.page.getByRole('button', { name: 'Invite', exact: true }).click()
    await owner.page.locator('#notice', { hasText: 'Invited' }).waitFor()
    await bob.page.getByLabel('Room', { exact: true }).fill('hq')
    await bob.page.getByLabel('Room', { exact: true }).press('Enter')
    await texts(bob.page, 3)
    await owner.page.locator('#members li.online', { hasText: 'bob' }).waitFor()
    await owner.page.getByRole('button', { name: 'Ban: bob' }).click()
    await bob.page.locator('#notice', { hasText: 'You were banned from #hq by a moderator.' }).waitFor()
    t.pass('the banned page says so')

    t.same([...owner.problems, ...bob.problems], [], 'no CSP violation and no page error')
  })

  t.test('sign-up needs a password of 8 characters', async (t) => {
    const cluster = await startCluster(t)
    const { page, problems } = await openRoomsPage(t, browser, `${cluster.url}/`)
    await page.getByLabel('Username').fill('carol')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.locator('#sign-in-error', { hasText: 'An account needs a password of 8 to 128 characters.' }).waitFor()
    t.equal(await page.locator('#password').getAttribute('aria-invalid'), 'true', 'the password field is marked invalid')
    t.ok(await page.locator('#sign-in-view').isVisible(), 'still on the sign-in form')
    t.same(problems, [])
  })
}
