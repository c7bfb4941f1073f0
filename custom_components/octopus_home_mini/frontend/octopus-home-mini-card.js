// The Live card: custom:octopus-home-mini-card. Plain web components, no build step.
// The integration serves this folder and adds this module to every dashboard.
import { CHART_H, CHART_W, DemandChart } from "./octopus-home-mini-chart.js";
import { SampleFeed } from "./octopus-home-mini-feed.js";
import {
  CARD_TYPE,
  ConfigError,
  MAX_WINDOW_MINUTES,
  ROWS,
  bandFor,
  formatMoney,
  formatNumber,
  formatTime,
  formatWatts,
  liveStatus,
  meterOf,
  normaliseConfig,
  stubConfig,
} from "./octopus-home-mini-logic.js";

/** How often the live indicator is re-checked between feed messages. */
const TICK_MS = 5000;

const COSTS = [
  ["cost_rate", "Cost per hour", 3],
  ["cost_today", "Cost today", 2],
  ["projected_cost_today", "Projected today", 2],
  ["projected_cost_month", "Projected month", 2],
];

/** Shown when the meter is paid for export (the integration creates these only then). */
const EXPORTS = [
  ["export_today", "Export today", 3],
  ["export_earnings_today", "Earned today", 2],
];

const STYLE = `
  :host { display: block; }
  ha-card { padding: 16px; box-sizing: border-box; height: 100%; overflow: hidden; }
  .head { display: flex; align-items: center; gap: 8px; color: var(--primary-text-color); }
  .title { flex: 1; font-size: 1.1em; font-weight: 500; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .status { font-size: 0.85em; color: var(--secondary-text-color); white-space: nowrap; }
  .dot { width: 10px; height: 10px; border-radius: 50%; flex: none; background: var(--disabled-text-color, #9e9e9e); }
  .dot.live { background: var(--success-color, #43a047); animation: pulse 2s ease-out infinite; }
  @keyframes pulse {
    0% { box-shadow: 0 0 0 0 rgba(67, 160, 71, 0.6); }
    70% { box-shadow: 0 0 0 8px rgba(67, 160, 71, 0); }
    100% { box-shadow: 0 0 0 0 rgba(67, 160, 71, 0); }
  }
  @media (prefers-reduced-motion: reduce) { .dot.live { animation: none; } }
  .now { display: flex; align-items: baseline; flex-wrap: wrap; gap: 4px 12px; margin: 12px 0 4px;
         padding-left: 12px; border-left: 6px solid var(--band, var(--divider-color)); }
  .demand { font-size: 2.8em; line-height: 1.1; font-weight: 400; color: var(--primary-text-color);
            font-variant-numeric: tabular-nums; }
  .demand .unit { font-size: 0.45em; margin-left: 4px; color: var(--secondary-text-color); }
  .offline .demand { color: var(--disabled-text-color, #9e9e9e); }
  .band { padding: 2px 10px; border-radius: 12px; font-size: 0.9em; font-weight: 500;
          background: var(--band); color: var(--band-ink); }
  .band:empty { display: none; }
  .chart { position: relative; margin: 12px 0 0; }
  .plot { position: relative; height: 120px; border-bottom: 1px solid var(--divider-color); }
  svg { display: block; width: 100%; height: 100%; overflow: visible; touch-action: pan-y; }
  svg:focus-visible { outline: 2px solid var(--primary-color); outline-offset: 2px; }
  rect.bar.active { stroke: var(--primary-text-color); stroke-width: 1.5px; vector-effect: non-scaling-stroke; }
  line.axis { stroke: var(--divider-color); stroke-width: 1px; vector-effect: non-scaling-stroke; }
  .scale { position: absolute; left: 2px; font-size: 0.7em; color: var(--secondary-text-color);
           background: var(--ha-card-background, var(--card-background-color)); padding: 0 2px; }
  .scale.top { top: -2px; }
  .scale.bottom { bottom: 0; }
  .ticks { position: relative; height: 16px; font-size: 0.75em; color: var(--secondary-text-color); }
  .ticks span { position: absolute; transform: translateX(-50%); white-space: nowrap; top: 2px; }
  .tooltip { position: absolute; top: 2px; pointer-events: none;
             background: var(--primary-text-color); color: var(--card-background-color, #fff);
             padding: 3px 8px; border-radius: 6px; font-size: 0.85em; white-space: nowrap; z-index: 1; }
  .tooltip[hidden] { display: none; }
  .empty { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
           color: var(--secondary-text-color); font-size: 0.9em; }
  .empty[hidden] { display: none; }
  dl { display: grid; gap: 8px 12px; margin: 12px 0 0; }
  dl.stats { grid-template-columns: repeat(4, minmax(0, 1fr)); }
  dl.costs { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  dl[hidden] { display: none; }
  dt { font-size: 0.75em; color: var(--secondary-text-color); }
  dd { margin: 0; font-size: 1em; color: var(--primary-text-color); font-variant-numeric: tabular-nums; }
  .session { display: flex; align-items: center; gap: 12px; margin: 12px 0 0; padding-top: 12px;
             border-top: 1px solid var(--divider-color); }
  .session .what { flex: 1; min-width: 0; }
  .session dd { font-size: 1.4em; }
  .since { font-size: 0.75em; color: var(--secondary-text-color); }
  button.reset { font: inherit; font-size: 0.9em; font-weight: 500; cursor: pointer; border-radius: 18px;
                 padding: 6px 16px; border: 1px solid var(--primary-color); background: none;
                 color: var(--primary-color); }
  button.reset:hover { background: rgba(127, 127, 127, 0.12); }
  button.reset:disabled { opacity: 0.5; cursor: default; }
  .warning { color: var(--error-color, #db4437); margin: 8px 0 0; font-size: 0.9em; }
  .warning:empty { display: none; }
  [data-hidden] { display: none !important; }
`;

const TEMPLATE = `
  <ha-card>
    <div class="head">
      <span class="dot" aria-hidden="true"></span>
      <span class="title"></span>
      <span class="status" role="status"></span>
    </div>
    <div class="now">
      <span class="demand" aria-live="off"><span class="value">–</span><span class="unit">W</span></span>
      <span class="band"></span>
    </div>
    <p class="warning" role="alert"></p>
    <div class="chart" data-row="chart">
      <div class="plot">
        <svg tabindex="0" role="img" viewBox="0 0 ${CHART_W} ${CHART_H}" preserveAspectRatio="none">
          <g class="bars"></g>
          <line class="axis" x1="0" x2="${CHART_W}"></line>
        </svg>
        <span class="scale top"></span>
        <span class="scale bottom"></span>
        <div class="tooltip" role="tooltip" hidden></div>
        <div class="empty" hidden>Waiting for samples…</div>
      </div>
      <div class="ticks" aria-hidden="true"></div>
    </div>
    <dl class="stats" data-row="stats">
      <div><dt>Average</dt><dd data-stat="average">–</dd></div>
      <div><dt>Peak</dt><dd data-stat="peak">–</dd></div>
      <div><dt>Minimum</dt><dd data-stat="minimum">–</dd></div>
      <div><dt>Energy</dt><dd data-stat="energy">–</dd></div>
    </dl>
    <div class="session" data-row="session">
      <dl class="what"><div><dt>Session cost</dt><dd data-cost="session_cost">–</dd>
        <span class="since"></span></div></dl>
      <button class="reset" type="button">Reset</button>
    </div>
    <dl class="costs" data-row="costs">
      ${COSTS.map(([key, label]) => `<div><dt>${label}</dt><dd data-cost="${key}">–</dd></div>`).join("")}
    </dl>
    <dl class="costs" data-row="export" hidden>
      ${EXPORTS.map(([key, label]) => `<div><dt>${label}</dt><dd data-cost="${key}">–</dd></div>`).join("")}
    </dl>
  </ha-card>
`;

class OctopusHomeMiniCard extends HTMLElement {
  static getConfigElement() {
    return document.createElement(`${CARD_TYPE}-editor`);
  }

  static getStubConfig(hass) {
    return stubConfig(hass);
  }

  constructor() {
    super();
    this._feed = new SampleFeed(() => this._onFeed());
    this._shown = {}; // what was last rendered, to skip unchanged updates
  }

  setConfig(config) {
    const next = normaliseConfig(config); // throws a ConfigError with the reason
    this._config = next;
    if (!this.shadowRoot) this._build();
    this._shown = {};
    this._update();
    this._renderChart();
  }

  set hass(hass) {
    this._hass = hass;
    this._update();
  }

  get hass() {
    return this._hass;
  }

  connectedCallback() {
    this._timer = setInterval(() => this._renderLive(), TICK_MS);
    this._update();
  }

  disconnectedCallback() {
    clearInterval(this._timer);
    this._feed.close();
  }

  getCardSize() {
    return 2 + ROWS.filter((row) => this._config?.[`show_${row}`]).length * 2;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6 };
  }

  // Building and wiring ------------------------------------------------------------------------

  _build() {
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>${TEMPLATE}`;
    const $ = (selector) => root.querySelector(selector);
    this._el = {
      card: $("ha-card"),
      dot: $(".dot"),
      title: $(".title"),
      status: $(".status"),
      now: $(".now"),
      demand: $(".demand"),
      value: $(".demand .value"),
      band: $(".band"),
      warning: $(".warning"),
      since: $(".since"),
      reset: $("button.reset"),
    };
    const stats = {};
    for (const cell of root.querySelectorAll("[data-stat]")) stats[cell.dataset.stat] = cell;
    this._chart = new DemandChart(
      {
        svg: $("svg"),
        bars: $("g.bars"),
        axis: $("line.axis"),
        top: $(".scale.top"),
        bottom: $(".scale.bottom"),
        tooltip: $(".tooltip"),
        empty: $(".empty"),
        ticks: $(".ticks"),
        stats,
      },
      { locale: () => this._locale(), timeZone: () => this._timeZone() },
    );
    this._el.reset.addEventListener("click", () => this._reset());
  }

  _update() {
    if (!this._config || !this._hass || !this._el) return;
    const meter = meterOf(this._hass, this._config.entity);
    this._meter = meter;
    if (!meter) this._feed.close(); // another entity, no longer a meter: its samples go
    else if (this.isConnected) this._feed.follow(this._hass.connection, meter.deviceId);
    this._warn(
      meter ? this._feed.error : `${this._config.entity} is not an Octopus Home Mini Demand sensor.`,
    );
    for (const row of ROWS) {
      this.shadowRoot
        .querySelector(`[data-row="${row}"]`)
        .toggleAttribute("data-hidden", !this._config[`show_${row}`]);
    }
    this._renderStates();
    this._renderLive();
  }

  _warn(text) {
    if (this._el.warning.textContent !== text) this._el.warning.textContent = text;
  }

  _onFeed() {
    if (!this._el || !this._config) return;
    this._warn(this._meter ? this._feed.error : this._el.warning.textContent);
    if (this._shown.bands !== this._feed.bands) {
      this._shown.bands = this._feed.bands; // the demand's band needs them
      this._renderDemand(this._hass?.states[this._config.entity]);
    }
    this._renderChart();
    this._renderLive();
  }

  // Rendering ---------------------------------------------------------------------------------

  _locale() {
    return this._hass?.locale?.language ?? navigator.language;
  }

  _timeZone() {
    // Home Assistant's profile setting: the server's zone unless the user chose the browser's.
    return this._hass?.locale?.time_zone === "local" ? undefined : this._hass?.config?.time_zone;
  }

  _state(key) {
    const entityId = this._meter?.entities[key];
    return entityId ? this._hass.states[entityId] : undefined;
  }

  _renderStates() {
    const demand = this._hass.states[this._config.entity];
    const changed = (key, value) => {
      if (this._shown[key] === value) return false;
      this._shown[key] = value;
      return true;
    };
    if (changed("demand", demand)) this._renderDemand(demand);
    const device = this._hass.devices?.[this._meter?.deviceId];
    const title = this._config.title ?? (device?.name_by_user || device?.name || "Home Mini");
    if (this._el.title.textContent !== title) this._el.title.textContent = title;
    const exports = Boolean(this._meter?.entities.export_today);
    this.shadowRoot.querySelector('[data-row="export"]').hidden = !exports;
    for (const [key, , digits] of [["session_cost", "", 2], ...COSTS, ...(exports ? EXPORTS : [])]) {
      const state = this._state(key);
      if (!changed(key, state)) continue;
      const cell = this.shadowRoot.querySelector(`[data-cost="${key}"]`);
      const value = Number.parseFloat(state?.state);
      const precision = this._hass.entities?.[state?.entity_id]?.display_precision ?? digits;
      const unit = state?.attributes.unit_of_measurement;
      if (!Number.isFinite(value)) cell.textContent = "–";
      else if (unit === "kWh") cell.textContent = `${formatNumber(value, this._locale(), precision)} kWh`;
      else cell.textContent = formatMoney(value, unit, this._locale(), precision);
    }
    const session = this._state("session_cost");
    const started = session?.attributes?.last_reset;
    this._el.since.textContent = started
      ? `since ${formatTime(Date.parse(started) / 1000, this._locale(), this._timeZone(), false)}`
      : "";
    const reset = this._meter?.entities.reset_session;
    this._el.reset.disabled = !reset || this._hass.states[reset]?.state === "unavailable";
    this._el.reset.setAttribute("aria-label", "Reset the session cost to zero");
  }

  _renderDemand(state) {
    const watts = Number.parseFloat(state?.state);
    const known = Number.isFinite(watts);
    this._el.value.textContent = known ? formatNumber(Math.round(watts), this._locale()) : "–";
    this._el.demand.setAttribute(
      "aria-label",
      known ? `Demand ${formatWatts(watts, this._locale())}` : "Demand unavailable",
    );
    const band = known ? bandFor(watts, this._feed.bands) : null;
    this._el.band.textContent = band ? band.label : "";
    this._el.now.style.setProperty("--band", band ? band.color : "");
    this._el.now.style.setProperty("--band-ink", band ? band.ink : "");
    this._el.now.dataset.band = band ? band.key : "";
  }

  _renderLive() {
    if (!this._el || !this._config) return;
    const feed = this._feed;
    const { live, newest } = liveStatus(feed.samples, Date.now() / 1000, feed.onlineWithin);
    this._el.dot.classList.toggle("live", live);
    this._el.card.classList.toggle("offline", !live);
    let text;
    if (live) text = "Live";
    else if (newest === null) text = feed.subscribed ? "Waiting for samples" : "Offline";
    else text = `Offline since ${formatTime(newest, this._locale(), this._timeZone(), false)}`;
    if (this._el.status.textContent !== text) this._el.status.textContent = text;
  }

  _renderChart() {
    if (!this._chart || !this._config) return;
    const kept = this._feed.keepSeconds;
    // The window, but never more than the integration keeps.
    const minutes = kept ? Math.min(this._config.window, Math.floor(kept / 60)) : this._config.window;
    this._chart.render(this._feed.samples, minutes, this._feed.bands);
  }

  // The session reset --------------------------------------------------------------------------

  async _reset() {
    const button = this._meter?.entities.reset_session;
    if (!button) return;
    this._el.reset.disabled = true;
    try {
      await this._hass.callService("button", "press", { entity_id: button });
    } finally {
      this._el.reset.disabled = false;
    }
  }
}

const EDITOR_LABELS = {
  entity: "Meter (its Demand sensor)",
  window: `Window (minutes, up to ${MAX_WINDOW_MINUTES})`,
  show_chart: "Chart",
  show_stats: "Window statistics",
  show_session: "Session cost and reset",
  show_costs: "Costs and projections",
};

const EDITOR_SCHEMA = [
  {
    name: "entity",
    required: true,
    selector: {
      entity: { filter: { integration: "octopus_home_mini", domain: "sensor", device_class: "power" } },
    },
  },
  {
    name: "window",
    selector: { number: { min: 1, max: MAX_WINDOW_MINUTES, step: 1, mode: "slider", unit_of_measurement: "min" } },
  },
  {
    name: "",
    type: "grid",
    schema: ROWS.map((row) => ({ name: `show_${row}`, selector: { boolean: {} } })),
  },
];

/** The visual editor: Home Assistant's own form with selectors. */
class OctopusHomeMiniCardEditor extends HTMLElement {
  setConfig(config) {
    try {
      this._config = normaliseConfig(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this._config = { ...config };
    }
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  _render() {
    if (!this._config || !this._hass) return;
    if (!this._form) {
      this._form = document.createElement("ha-form");
      this._form.schema = EDITOR_SCHEMA;
      this._form.computeLabel = (item) => EDITOR_LABELS[item.name] ?? item.name;
      this._form.addEventListener("value-changed", (event) => {
        event.stopPropagation();
        this._config = { ...this._config, ...event.detail.value };
        this.dispatchEvent(
          new CustomEvent("config-changed", {
            detail: { config: this._config },
            bubbles: true,
            composed: true,
          }),
        );
      });
      this.appendChild(this._form);
    }
    this._form.hass = this._hass;
    this._form.data = this._config;
  }
}

/** Define the card and editor, and list the card in the picker (once per page). */
function register() {
  const registry = window.customElements;
  if (registry.get(CARD_TYPE)) return;
  registry.define(CARD_TYPE, OctopusHomeMiniCard);
  registry.define(`${CARD_TYPE}-editor`, OctopusHomeMiniCardEditor);
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: CARD_TYPE,
    name: "Octopus Home Mini Live",
    description:
      "Live demand from your Home Mini: every 10-second sample, the demand band, session cost and projections.",
    preview: true,
    documentationURL: "https://github.com/octopus-home-mini/octopus_home_mini#live-card",
  });
}

// Home Assistant's app swaps window.customElements for a scoped-registry polyfill when it
// starts; an element defined before that would be invisible to it. This module may load
// first, so it defines its elements once the app's root element exists.
window.customElements.whenDefined("home-assistant").then(register);
