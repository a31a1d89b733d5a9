import { join } from 'node:path'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { ROOT } from './cluster.js'

/** Debian's Chromium, as the browser tests launch it (headless, no network of its own). */
export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
export const SCREENSHOTS = join(ROOT, '.tap', 'screenshots')

interface Teardown { teardown: (fn: () => unknown) => void }

export interface OpenPage {
  page: Page
  /** Content-Security-Policy violations and uncaught errors seen by the page. */
  problems: string[]
}

/** A fresh browser context on `url`, closed when the test ends, recording page errors and CSP refusals. */
export async function openPage (t: Teardown, browser: Browser, url: string, options: BrowserContextOptions = {}): Promise<OpenPage> {
  const context = await browser.newContext({ viewport: { width: 960, height: 640 }, ...options })
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.setDefaultTimeout(20_000)
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text())
  })
  await page.goto(url)
  return { page, problems }
}
