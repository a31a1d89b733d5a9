import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RESULTS_DIR } from './report.js'
import { ROOT } from './targets.js'

/**
 * The seed report's own figures, read from the quickchart URLs in its Korean original (each URL's
 * `c` parameter is the chart's JSON), never retyped. They are kept in docs/benchmarks/seed.json
 * too, so charts render where ../shared is absent.
 */

export const SEED_FILE = join(ROOT, '..', 'shared', 'seed', '000_edff913c12defd5d.txt')
export const SEED_JSON = join(RESULTS_DIR, 'seed.json')

export interface SeedSeries {
  label: string
  data: number[]
}

export interface SeedChart {
  title: string
  labels: Array<number | string>
  series: SeedSeries[]
}

interface QuickChart {
  data: { labels: Array<number | string>, datasets: Array<{ label: string, data: number[] }> }
  options?: { title?: { text?: string } }
}

/** Every chart in the seed text, by its title. */
export function parseSeed (text: string): Record<string, SeedChart> {
  const charts: Record<string, SeedChart> = {}
  // Each chart is a markdown image whose URL runs to the line's last ')' (the JSON holds parentheses).
  for (const match of text.matchAll(/\(https:\/\/quickchart\.io\/chart\?c=(\S+)\)\s*$/gm)) {
    const chart = JSON.parse(decodeURIComponent(match[1] as string)) as QuickChart
    const title = chart.options?.title?.text ?? `chart ${Object.keys(charts).length + 1}`
    charts[title] = { title, labels: chart.data.labels, series: chart.data.datasets.map(({ label, data }) => ({ label, data })) }
  }
  return charts
}

/** The seed's charts: from the seed file when present (refreshing seed.json), else from seed.json. */
export function loadSeed (): Record<string, SeedChart> {
  if (existsSync(SEED_FILE)) {
    const charts = parseSeed(readFileSync(SEED_FILE, 'utf8'))
    const text = `${JSON.stringify({ source: 'shared/seed/000_edff913c12defd5d.txt (quickchart URLs)', charts }, null, 2)}\n`
    if (!existsSync(SEED_JSON) || readFileSync(SEED_JSON, 'utf8') !== text) writeFileSync(SEED_JSON, text)
    return charts
  }
  return (JSON.parse(readFileSync(SEED_JSON, 'utf8')) as { charts: Record<string, SeedChart> }).charts
}

/** One series of a seed chart as [x, y] points. */
export function seedPoints (charts: Record<string, SeedChart>, title: string, label: string): Array<{ x: number, y: number }> {
  const chart = charts[title]
  const series = chart?.series.find((item) => item.label === label)
  if (chart === undefined || series === undefined) throw new Error(`the seed has no series "${label}" in "${title}"`)
  return series.data.map((y, index) => ({ x: Number(chart.labels[index]), y }))
}
