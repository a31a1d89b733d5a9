import { get } from 'node:http'
import t from 'tap'
import { startCluster } from './helpers/cluster.js'

/**
 * The web client's files over HTTP: the page at `/` with its security headers and revalidated
 * on every load, its script and stylesheet from this server (no CDN) under content-hashed names
 * cached for good, the right content types, compressed for browsers that accept it.
 */

/** The page may connect only to its own origin: 'self' plus its host over ws:/wss:. */
const csp = (host: string): string => "default-src 'self';script-src 'self';style-src 'self';" +
  `connect-src 'self' ws://${host} wss://${host};img-src 'self' data:;object-src 'none';base-uri 'none';frame-ancestors 'none';form-action 'self'`

t.test('the page and its assets are served with the right headers', async (t) => {
  const cluster = await startCluster(t)
  for (const path of ['/', '/?room=lobby', '/index.html']) {
    const page = await fetch(`${cluster.url}${path}`)
    t.equal(page.status, 200, `${path} answers`)
    t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
    t.equal(page.headers.get('content-security-policy'), csp(`127.0.0.1:${cluster.port}`), 'inline scripts and styles are forbidden; connections only to this origin')
    t.equal(page.headers.get('x-frame-options'), 'SAMEORIGIN')
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

  const api = await fetch(`${cluster.url}/api/rooms/lobby/messages`)
  for (const [name, value] of [['x-content-type-options', 'nosniff'], ['x-frame-options', 'SAMEORIGIN'], ['referrer-policy', 'no-referrer'], ['cross-origin-opener-policy', 'same-origin']]) {
    t.equal(api.headers.get(name as string), value, `REST answers carry ${name as string}`)
  }
  const policy = await new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port: cluster.port, path: '/', headers: { host: "evil;script-src 'unsafe-inline'" } }, (response) => {
      response.resume()
      resolve(String(response.headers['content-security-policy']))
    }).once('error', reject)
  })
  t.notMatch(policy, /unsafe-inline|evil/, 'a Host header cannot write into the policy')
  t.match(policy, /connect-src 'self';/, "only 'self' then")
})
