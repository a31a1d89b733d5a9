import type { FastifyInstance } from 'fastify'

/** The web client's static files (see issue 5); a plain landing page until then. */
export async function webRoutes (app: FastifyInstance): Promise<void> {
  app.get('/', async (_request, reply) => {
    return reply.type('text/plain; charset=utf-8').send('chat server: see README.md\n')
  })
}
