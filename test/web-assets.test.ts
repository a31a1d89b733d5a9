import t from 'tap'
import { startCluster } from './helpers/cluster.js'

/**
 * The web client's files over HTTP: the page at `/` with its security headers and revalidated
 * on every load, its script and stylesheet from this server (no CDN) under content-hashed names
 * cached for good, the right content types, compressed for browsers that accept it.
 */

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

t.test('the page and its assets are served with the right headers', async (t) => {
  const cluster = await startCluster(t)
  for (const path of ['/', '/?room=lobby', '/index.html']) {
    const page = await fetch(`${cluster.url}${path}`)
    t.equal(page.status, 200, `${path} answers`)
    t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
    t.equal(page.headers.get('content-security-policy'), CSP, 'inline scripts and styles are forbidden')
    t.equal(page.headers.get('x-content-type-options'), 'nosniff')
    t.equal(page.headers.get('referrer-policy'), 'no-referrer')
    t.equal(page.headers.get('cache-control'), 'no-cache', 'revalidated on every load')
    t.match(page.headers.get('content-encoding'), /^(?:br|gzip)$/, 'compressed')
    if (path !== '/') continue

    const html = await page.text()
    t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script')
    t.notMatch(html, /<style|\sstyle=/i, 'no inline style')
    t.notMatch(html, /(?:src|href)="(?:https?:)?\/\//i, 'nothing from another origin')
    const script = /<script src="(\/app-[A-Z0-9]{8}\.js)"/.exec(html)?.[1]
    const stylesheet = /<link rel="stylesheet" href="(\/style-[A-Z0-9]{8}\.css)"/.exec(html)?.[1]
    t.ok(script !== undefined && stylesheet !== undefined, 'the page names its content-hashed bundles')

    for (const [asset, type] of [[script, 'application/javascript; charset=utf-8'], [stylesheet, 'text/css; charset=utf-8'], [`${script}.map`, 'application/json; charset=utf-8']]) {
      const response = await fetch(`${cluster.url}${asset}`)
      t.equal(response.status, 200, `${asset} answers`)
      t.equal(response.headers.get('content-type'), type)
      t.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'cached for good: its name changes with its content')
      t.equal(response.headers.get('x-content-type-options'), 'nosniff')
      await response.arrayBuffer()
    }
    const bundle = await (await fetch(`${cluster.url}${script}`)).text()
    t.match(bundle, /engine\.io|socket\.io/i, 'the Socket.IO client is bundled in')
  }
  const missing = await fetch(`${cluster.url}/no-such-file.js`)
  t.equal(missing.status, 404)
  t.match(await missing.json(), { error: { code: 'E_NOT_FOUND' } })
})
