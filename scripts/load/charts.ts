import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

/**
 * Charts as vega-lite specs rendered headless to SVG (vega View, renderer 'none'). Every seed
 * chart becomes one SVG of side-by-side panels; each panel draws ours, plain Socket.IO and raw
 * ws as solid lines and the seed's own figures as a dashed grey fourth line.
 */

export interface Row {
  series: string
  x: number
  y: number
}

export const SEED_SERIES = 'seed report'
export const SERIES_COLORS: Record<string, string> = {
  ours: '#1b7f5f',
  'plain Socket.IO': '#d95f02',
  'raw ws': '#5b57a6',
  [SEED_SERIES]: '#8c8c8c'
}

export interface Panel {
  title: string
  xTitle: string
  yTitle: string
  rows: Row[]
  xLog?: boolean
  yLog?: boolean
  /** Fixed y range, e.g. [0, 100] for percentages. */
  yDomain?: [number, number]
  /** Whole-number x ticks (cycles, counts). */
  xIntegers?: boolean
  /** A horizontal reference line with its label (a target). */
  rule?: { y: number, label: string }
}

type Spec = Record<string, unknown>

/** Colours of the configurations in the throughput chart (ours in greens). */
export const CONFIG_COLORS: Record<string, string> = {
  'ours-w1': '#74c476',
  'ours-w1-pool': '#31a354',
  'ours-w2': '#1b7f5f',
  'ours-w2-pool': '#00441b',
  'ours-w2-nocoalesce': '#a1d99b',
  plain: SERIES_COLORS['plain Socket.IO'] as string,
  raw: SERIES_COLORS['raw ws'] as string,
  'raw-unbatched': '#e7298a'
}

const FALLBACK_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f']

function colorEncoding (series: string[], colors: Record<string, string>): Spec {
  return {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: series, range: series.map((name, index) => colors[name] ?? SERIES_COLORS[name] ?? FALLBACK_COLORS[index % FALLBACK_COLORS.length]) },
    legend: { orient: 'bottom', direction: 'vertical', labelLimit: 320 }
  }
}

function panelSpec (panel: Panel, series: string[], colors: Record<string, string>): Spec {
  const rows = panel.rows.filter((row) => Number.isFinite(row.y) && (panel.yLog !== true || row.y > 0))
  const x = {
    field: 'x',
    type: 'quantitative',
    title: panel.xTitle,
    scale: panel.xLog === true ? { type: 'log' } : { zero: false },
    axis: { grid: true, ...(panel.xIntegers === true ? { format: 'd', tickMinStep: 1 } : {}) }
  }
  const y = {
    field: 'y',
    type: 'quantitative',
    title: panel.yTitle,
    scale: panel.yLog === true ? { type: 'log' } : panel.yDomain !== undefined ? { domain: panel.yDomain } : { zero: true }
  }
  const color = colorEncoding(series, colors)
  const tooltip = [{ field: 'series' }, { field: 'x', type: 'quantitative' }, { field: 'y', type: 'quantitative' }]
  const layers: Spec[] = [
    {
      data: { values: rows.filter((row) => row.series !== SEED_SERIES) },
      mark: { type: 'line', point: { size: 28 }, strokeWidth: 2, clip: true },
      encoding: { x, y, color, tooltip }
    },
    {
      data: { values: rows.filter((row) => row.series === SEED_SERIES) },
      mark: { type: 'line', point: { size: 20, shape: 'diamond' }, strokeDash: [6, 4], strokeWidth: 2, clip: true },
      encoding: { x, y, color, tooltip }
    }
  ]
  if (panel.rule !== undefined) {
    layers.push({
      data: { values: [panel.rule] },
      layer: [
        { mark: { type: 'rule', strokeDash: [2, 3], color: '#b22222' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
        { mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#b22222', fontSize: 10 }, encoding: { y: { field: 'y', type: 'quantitative' }, x: { value: 0 }, text: { field: 'label' } } }
      ]
    })
  }
  return { title: { text: panel.title, fontSize: 12 }, width: 300, height: 220, layer: layers }
}

/** A bar panel: one bar per series (e.g. most connections held), with an optional target rule. */
export function barPanelSpec (panel: Omit<Panel, 'xLog' | 'yLog'>, series: string[]): Spec {
  const layers: Spec[] = [{
    data: { values: panel.rows },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'series', type: 'nominal', title: panel.xTitle, sort: series, axis: { labelAngle: 0 } },
      y: { field: 'y', type: 'quantitative', title: panel.yTitle },
      color: colorEncoding(series, {})
    }
  }, {
    data: { values: panel.rows },
    mark: { type: 'text', dy: -6, fontSize: 10 },
    encoding: { x: { field: 'series', type: 'nominal', sort: series }, y: { field: 'y', type: 'quantitative' }, text: { field: 'y', type: 'quantitative', format: ',' } }
  }]
  if (panel.rule !== undefined) {
    layers.push({
      data: { values: [panel.rule] },
      layer: [
        { mark: { type: 'rule', strokeDash: [6, 4], color: SERIES_COLORS[SEED_SERIES] }, encoding: { y: { field: 'y', type: 'quantitative' } } },
        { mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#555555', fontSize: 10 }, encoding: { y: { field: 'y', type: 'quantitative' }, x: { value: 0 }, text: { field: 'label' } } }
      ]
    })
  }
  return { title: { text: panel.title, fontSize: 12 }, width: 300, height: 220, layer: layers }
}

/**
 * Renders panels side by side (line panels unless given as ready specs) into one SVG string;
 * `colors` maps series names to colours beyond the four standard lines.
 */
export async function renderChart (title: string, subtitle: string | string[], panels: Array<Panel | Spec>, series: string[], colors: Record<string, string> = {}): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle, anchor: 'start', fontSize: 15, subtitleFontSize: 11 },
    config: { font: 'Helvetica, Arial, sans-serif', view: { stroke: '#dddddd' } },
    hconcat: panels.map((panel) => 'rows' in panel && !('layer' in panel) ? panelSpec(panel as Panel, series, colors) : panel),
    resolve: { scale: { color: 'shared' } }
  } as unknown as TopLevelSpec
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
