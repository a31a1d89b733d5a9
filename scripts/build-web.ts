import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { build } from 'esbuild'
import ts from 'typescript'
import { projectPath, projectRoot } from '../src/paths.js'

/**
 * Builds the web client into dist/web/ (run by `npm run build` after tsc):
 * 1. type-checks src/web and the client library it imports with src/web/tsconfig.json (DOM
 *    types, no Node types), which the root tsconfig leaves out;
 * 2. bundles src/web/main.ts, socket.io-client included (no CDN), and the stylesheet with
 *    esbuild, minified, with source maps, under content-hashed names (cached for good);
 * 3. writes index.html pointing at those names (served with no-cache);
 * 4. writes brotli and gzip copies beside each file, which src/http/web.ts serves to browsers
 *    that accept them.
 */

const SOURCE = projectPath('src', 'web')
const OUT = projectPath('dist', 'web')

function typeCheck (): boolean {
  const host: ts.ParseConfigFileHost = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')) }
  }
  const config = ts.getParsedCommandLineOfConfigFile(join(SOURCE, 'tsconfig.json'), {}, host)
  if (config === undefined) throw new Error('cannot read src/web/tsconfig.json')
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
  const diagnostics = [...config.errors, ...ts.getPreEmitDiagnostics(program)]
  if (diagnostics.length === 0) return true
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, {
    getCanonicalFileName: (fileName) => fileName,
    getCurrentDirectory: () => projectRoot,
    getNewLine: () => '\n'
  }))
  return false
}

/** Bundles the entry points; resolves each entry's hashed output file name. */
async function bundle (): Promise<Record<'app' | 'style', string>> {
  await rm(OUT, { recursive: true, force: true })
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints: { app: join(SOURCE, 'main.ts'), style: join(SOURCE, 'style.css') },
    entryNames: '[name]-[hash]',
    outdir: OUT,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning'
  })
  const names: Partial<Record<'app' | 'style', string>> = {}
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (output.entryPoint?.endsWith('main.ts') === true) names.app = basename(file)
    if (output.entryPoint?.endsWith('style.css') === true) names.style = basename(file)
  }
  if (names.app === undefined || names.style === undefined) throw new Error('esbuild did not report both bundles')
  return { app: names.app, style: names.style }
}

/** Points the page at the hashed files; fails loudly if the page no longer names them. */
function linkAssets (html: string, names: Record<'app' | 'style', string>): string {
  const replacements: Array<[string, string]> = [['src="/app.js"', `src="/${names.app}"`], ['href="/style.css"', `href="/${names.style}"`]]
  for (const [from, to] of replacements) {
    if (!html.includes(from)) throw new Error(`src/web/index.html no longer contains ${from}`)
    html = html.replace(from, to)
  }
  return html
}

const COMPRESSIBLE = /\.(?:html|js|css)$/

async function precompress (): Promise<void> {
  const brotli = promisify(brotliCompress)
  const gzipped = promisify(gzip)
  for (const name of await readdir(OUT)) {
    if (!COMPRESSIBLE.test(name)) continue
    const content = await readFile(join(OUT, name))
    await writeFile(join(OUT, `${name}.br`), await brotli(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }))
    await writeFile(join(OUT, `${name}.gz`), await gzipped(content, { level: 9 }))
  }
}

async function main (): Promise<void> {
  if (!typeCheck()) {
    process.exitCode = 1
    return
  }
  const names = await bundle()
  const html = await readFile(join(SOURCE, 'index.html'), 'utf8')
  await writeFile(join(OUT, 'index.html'), linkAssets(html, names))
  await precompress()
  process.stdout.write(`web client built: dist/web/{index.html,${names.app},${names.style}}\n`)
}

await main()
