// The Live card's chart: one bar per 10-s sample over the window, its time axis and scale,
// the window's statistics, and the sample under the pointer or keyboard focus.
import {
  barGeometry,
  formatEnergy,
  formatTime,
  formatWatts,
  nearestSample,
  timeTicks,
  windowOf,
  windowStats,
} from "./octopus-home-mini-logic.js";

const SVG = "http://www.w3.org/2000/svg";
/** The chart's drawing box; the SVG stretches it to the card's width. */
export const CHART_W = 1000;
export const CHART_H = 100;

export class DemandChart {
  /**
   * `el`: the card's chart elements (svg, bars, axis, top, bottom, tooltip, empty, ticks, and
   * `stats`: the statistics' cells by key); `format`: { locale(), timeZone() }.
   */
  constructor(el, format) {
    this._el = el;
    this._format = format;
    this._samples = [];
    this._minutes = 5;
    this._bands = [];
    this._selected = null; // the sample under the pointer or keyboard focus
    const { svg } = el;
    svg.addEventListener("pointermove", (event) => this._point(event));
    svg.addEventListener("pointerdown", (event) => this._point(event));
    svg.addEventListener("pointerleave", (event) => event.pointerType === "mouse" && this._select(null));
    svg.addEventListener("blur", () => this._select(null));
    svg.addEventListener("keydown", (event) => this._key(event));
  }

  /** Draw `samples` over the last `minutes`, coloured by `bands`. */
  render(samples, minutes, bands) {
    this._samples = samples;
    this._minutes = minutes;
    this._bands = bands;
    const el = this._el;
    const locale = this._format.locale();
    const window = this._window();
    const { top, bottom, axis, bars } = barGeometry(window, minutes, CHART_W, CHART_H, bands);
    el.bars.replaceChildren(...bars.map((bar) => this._bar(bar)));
    el.axis.setAttribute("y1", axis.toFixed(2));
    el.axis.setAttribute("y2", axis.toFixed(2));
    el.top.textContent = bars.length ? formatWatts(top, locale) : "";
    el.bottom.textContent = bottom ? formatWatts(-bottom, locale) : "";
    el.empty.hidden = bars.length > 0;
    const ticks = window.start === null ? [] : timeTicks(window.start, window.end);
    el.ticks.replaceChildren(
      ...ticks.map((tick) => {
        const label = document.createElement("span");
        label.style.left = `${(tick.at * 100).toFixed(2)}%`;
        label.textContent = formatTime(tick.time, locale, this._format.timeZone(), false);
        return label;
      }),
    );
    const stats = windowStats(window.samples);
    const text = {
      average: stats ? formatWatts(stats.average, locale) : "–",
      peak: stats ? formatWatts(stats.peak, locale) : "–",
      minimum: stats ? formatWatts(stats.minimum, locale) : "–",
      energy: stats ? formatEnergy(stats.energyWh, locale) : "–",
    };
    for (const [key, value] of Object.entries(text)) el.stats[key].textContent = value;
    el.svg.setAttribute(
      "aria-label",
      stats
        ? `Demand over the last ${minutes} minutes, ${stats.count} ten-second samples: ` +
            `average ${text.average}, peak ${text.peak}, minimum ${text.minimum}. ` +
            "Arrow keys step through the samples."
        : `Demand over the last ${minutes} minutes: no samples yet.`,
    );
    // Keep the selected sample's tooltip on it while the bars move under it.
    const selected = this._selected && window.samples.find((pair) => pair[0] === this._selected[0]);
    this._select(selected ?? null);
  }

  _window() {
    return windowOf(this._samples, this._minutes);
  }

  _bar(bar) {
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", "bar");
    rect.setAttribute("x", bar.x.toFixed(2));
    rect.setAttribute("y", bar.y.toFixed(2));
    rect.setAttribute("width", bar.width.toFixed(2));
    rect.setAttribute("height", Math.max(bar.height, 0.3).toFixed(2));
    rect.setAttribute("fill", bar.color);
    rect.dataset.time = String(bar.time);
    rect.dataset.watts = String(bar.watts);
    return rect;
  }

  // Hover, tap and keyboard --------------------------------------------------------------------

  _point(event) {
    const box = this._el.svg.getBoundingClientRect();
    if (box.width === 0) return;
    const at = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    this._select(nearestSample(this._window(), this._minutes, at));
  }

  _key(event) {
    const samples = this._window().samples;
    if (!samples.length) return;
    const index = this._selected ? samples.findIndex((pair) => pair[0] === this._selected[0]) : -1;
    const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const start = index === -1 ? samples.length : index;
    const next = Math.min(samples.length - 1, Math.max(0, start + moves[event.key]));
    this._select(samples[Number.isFinite(next) ? next : 0]);
  }

  _select(sample) {
    this._selected = sample;
    const { tooltip, bars } = this._el;
    for (const rect of bars.children) {
      rect.classList.toggle("active", sample !== null && rect.dataset.time === String(sample[0]));
    }
    if (!sample) {
      tooltip.hidden = true;
      return;
    }
    const window = this._window();
    const at = (sample[0] - 5 - window.start) / (this._minutes * 60);
    // Slide the tooltip from left- to right-aligned across the chart, so it never leaves it.
    const percent = (Math.min(1, Math.max(0, at)) * 100).toFixed(2);
    tooltip.style.left = `${percent}%`;
    tooltip.style.transform = `translateX(-${percent}%)`;
    const { locale, timeZone } = this._format;
    tooltip.textContent = `${formatTime(sample[0], locale(), timeZone())} · ${formatWatts(
      sample[1],
      locale(),
    )}`;
    tooltip.hidden = false;
  }
}
