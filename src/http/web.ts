import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { projectPath } from '../paths.js'

/**
 * The web client at `/`: the files scripts/build-web.ts writes to dist/web. index.html is
 * revalidated on every load; the security headers (no inline script or style may run) come
 * from @fastify/helmet on every response (security-headers.ts); the bundles have content-hashed names, so browsers keep them for a year without asking.
 * Without a build, `/` answers 503 with a line saying so.
 */

/** `name-HASH.ext` as esbuild's `[name]-[hash]` writes it, with its source map. */
const CONTENT_HASHED = /-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$/

function setHeaders (reply: FastifyReply, servedPath: string): void {
  // A precompressed copy (index.html.br) gets the headers of the file it stands for.
  const path = servedPath.replace(/\.(?:br|gz)$/, '')
  void reply.header('x-content-type-options', 'nosniff')
  if (CONTENT_HASHED.test(path)) {
    void reply.header('cache-control', 'public, max-age=31536000, immutable')
  } else if (path.endsWith('.html')) {
    void reply.header('cache-control', 'no-cache')
  } else {
    void reply.header('cache-control', 'public, max-age=300')
  }
}

export async function webRoutes (app: FastifyInstance): Promise<void> {
  const root = projectPath('dist', 'web')
  if (!existsSync(join(root, 'index.html'))) {
    app.log.warn({ root }, 'web client not built; / answers 503')
    app.get('/', async (_request, reply) => {
      return reply.status(503).header('cache-control', 'no-store').type('text/plain; charset=utf-8')
        .send('chat server: the web client is not built (run `npm run build`)\n')
    })
    return
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    // An array: with preCompressed, @fastify/static 10.1 finds no index given as a plain string.
    index: ['index.html'],
    // Cache-Control comes from setHeaders, per kind of file.
    cacheControl: false,
    preCompressed: true,
    setHeaders
  })
}
