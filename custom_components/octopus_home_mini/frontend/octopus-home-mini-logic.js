// The Live card's logic: bands, window, chart geometry, time axis, formatting, config.
// No DOM here, so Node's test runner can import it (tests/js/).

export const DOMAIN = "octopus_home_mini";
export const CARD_TYPE = "octopus-home-mini-card";
export const SUBSCRIBE = `${DOMAIN}/samples/subscribe`;
/** The Home Mini uploads a sample every 10 s; each bar stands for one. */
export const SAMPLE_SECONDS = 10;
/** The card's own bound on its window; the chart shows at most what the integration keeps
 * (the feed's first message says how much). */
export const MAX_WINDOW_MINUTES = 30;
export const DEFAULT_WINDOW_MINUTES = 5;
/** The rows below the demand, each of which the editor can hide. */
export const ROWS = ["chart", "stats", "session", "costs"];

/** How each demand band looks, as in the README; the bounds come from the integration. */
export const BAND_STYLES = {
  low: { label: "Low", color: "#43a047", ink: "#000" },
  normal: { label: "Normal", color: "#1e88e5", ink: "#000" },
  moderate: { label: "Moderate", color: "#fdd835", ink: "#000" },
  high: { label: "High", color: "#fb8c00", ink: "#000" },
  very_high: { label: "Very high", color: "#e53935", ink: "#000" },
};
/** Negative demand: drawn below the axis in its own colour. */
export const EXPORT = { key: "export", upper: 0, label: "Exporting", color: "#8e24aa", ink: "#fff" };
/** A band the card has no style for (a newer integration's): still shown, in grey. */
const UNSTYLED = { color: "#9e9e9e", ink: "#000" };

/** The feed's bands, `[[key, upper W or null], ...]` in order, with their looks. */
export function bandsFrom(levels) {
  return levels.map(([key, upper]) => ({
    key,
    upper,
    ...(BAND_STYLES[key] ?? { ...UNSTYLED, label: key }),
  }));
}

/** The band of a demand: below whose upper bound it is; export has its own. Null until the
 * feed has said the bands. */
export function bandFor(watts, bands) {
  if (watts < 0) return EXPORT;
  return bands.find((band) => band.upper === null || watts < band.upper) ?? null;
}

// Samples: [epoch seconds, W] pairs, oldest first, as the integration sends them. ----------

/** Held samples after a feed message: deduplicated, in order, at most `keepSeconds` (what
 * the integration keeps; all while it is not known). */
export function mergeSamples(held, incoming, replace, keepSeconds = Infinity) {
  const byTime = new Map(replace ? [] : held.map((pair) => [pair[0], pair]));
  for (const pair of incoming) byTime.set(pair[0], pair);
  const merged = [...byTime.values()].sort((a, b) => a[0] - b[0]);
  if (merged.length === 0) return merged;
  const oldest = merged.at(-1)[0] - keepSeconds;
  return merged.filter((pair) => pair[0] > oldest);
}

/** The window ends at the newest sample: (newest − minutes, newest]. */
export function windowOf(samples, minutes) {
  if (samples.length === 0) return { start: null, end: null, samples: [] };
  const end = samples.at(-1)[0];
  const start = end - minutes * 60;
  return { start, end, samples: samples.filter((pair) => pair[0] > start) };
}

/** Average, peak and minimum demand, and the energy (net Wh, each sample standing for 10 s). */
export function windowStats(samples) {
  if (samples.length === 0) return null;
  let sum = 0;
  let peak = -Infinity;
  let minimum = Infinity;
  for (const [, watts] of samples) {
    sum += watts;
    peak = Math.max(peak, watts);
    minimum = Math.min(minimum, watts);
  }
  return {
    count: samples.length,
    average: sum / samples.length,
    peak,
    minimum,
    energyWh: (sum * SAMPLE_SECONDS) / 3600,
  };
}

/** Live while the newest sample is younger than `maxAge` seconds (the Online sensor's rule,
 * which the feed sends with every message). */
export function liveStatus(samples, nowSeconds, maxAge) {
  const newest = samples.length ? samples.at(-1)[0] : null;
  return { live: newest !== null && maxAge !== undefined && nowSeconds - newest < maxAge, newest };
}

// Chart ---------------------------------------------------------------------------------------

/** 1, 2, 2.5 or 5 times a power of ten, at least `value`. */
export function niceCeiling(value) {
  if (!(value > 0)) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value - 1e-9) return step * power;
  }
  return 10 * power; // not reached
}

/** The vertical range: at least 500 W up; down only as far as there is export. */
export function chartScale(samples) {
  let peak = 0;
  let exported = 0;
  for (const [, watts] of samples) {
    peak = Math.max(peak, watts);
    exported = Math.max(exported, -watts);
  }
  return { top: niceCeiling(Math.max(peak, 500)), bottom: niceCeiling(exported) };
}

/**
 * One bar per sample, in a box `width` × `height`: x across the window (the bar fills the
 * 10 s before its sample, less a gap), imports up from the axis and exports down from it.
 */
export function barGeometry(window, minutes, width, height, bands) {
  const { top, bottom } = chartScale(window.samples);
  const span = minutes * 60;
  const axis = (height * top) / (top + bottom);
  const slot = (width * SAMPLE_SECONDS) / span;
  const bars = window.samples.map(([time, watts]) => {
    const x = ((time - window.start) / span) * width - slot;
    const h = watts >= 0 ? (watts / top) * axis : (-watts / bottom) * (height - axis);
    return {
      time,
      watts,
      x: x + slot * 0.1,
      width: slot * 0.8,
      y: watts >= 0 ? axis - h : axis,
      height: h,
      color: (bandFor(watts, bands) ?? UNSTYLED).color,
    };
  });
  return { top, bottom, axis, bars };
}

/** Tick marks on whole minutes, at most about six: [{ time, at }] with `at` in 0..1. */
export function timeTicks(start, end) {
  const span = end - start;
  const step = [60, 120, 300, 600].find((seconds) => span / seconds <= 6) ?? 600;
  const ticks = [];
  for (let time = Math.ceil(start / step) * step; time <= end; time += step) {
    ticks.push({ time, at: (time - start) / span });
  }
  return ticks;
}

/** The sample nearest to a point at `at` (0..1) across the window. */
export function nearestSample(window, minutes, at) {
  if (window.samples.length === 0) return null;
  const time = window.start + at * minutes * 60 + SAMPLE_SECONDS / 2; // bars end at their sample
  let best = window.samples[0];
  for (const pair of window.samples) {
    if (Math.abs(pair[0] - time) < Math.abs(best[0] - time)) best = pair;
  }
  return best;
}

// Formatting ----------------------------------------------------------------------------------

export function formatNumber(value, locale, digits = 0) {
  return new Intl.NumberFormat(locale, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

export function formatWatts(watts, locale) {
  return `${formatNumber(Math.round(watts), locale)} W`;
}

export function formatEnergy(wh, locale) {
  return Math.abs(wh) >= 1000
    ? `${formatNumber(wh / 1000, locale, 2)} kWh`
    : `${formatNumber(wh, locale, 1)} Wh`;
}

/** A sensor's money value in its unit ("GBP", "GBP/h"): £1.23, £0.456/h. */
export function formatMoney(value, unit, locale, digits = 2) {
  const [currency, per] = (unit || "").split("/");
  let text;
  try {
    text = new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(value);
  } catch {
    text = `${formatNumber(value, locale, digits)} ${currency}`.trim();
  }
  return per ? `${text}/${per}` : text;
}

/** Clock time of an epoch-seconds instant in the given zone (undefined: the browser's). */
export function formatTime(seconds, locale, timeZone, withSeconds = true) {
  return new Intl.DateTimeFormat(locale, {
    hour: "2-digit",
    minute: "2-digit",
    ...(withSeconds ? { second: "2-digit" } : {}),
    hourCycle: "h23",
    timeZone,
  }).format(new Date(seconds * 1000));
}

// Config and Home Assistant's registries ------------------------------------------------------

export class ConfigError extends Error {}

/** A checked copy of the card's config, with defaults; throws a ConfigError that says why. */
export function normaliseConfig(config) {
  if (!config || typeof config.entity !== "string" || !config.entity.startsWith("sensor.")) {
    throw new ConfigError("Set `entity` to a Home Mini Demand sensor (sensor.…_demand).");
  }
  const minutes = config.window ?? DEFAULT_WINDOW_MINUTES;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_WINDOW_MINUTES) {
    throw new ConfigError(`\`window\` is whole minutes, 1 to ${MAX_WINDOW_MINUTES}.`);
  }
  const normalised = { ...config, window: minutes };
  for (const row of ROWS) {
    const key = `show_${row}`;
    if (normalised[key] !== undefined && typeof normalised[key] !== "boolean") {
      throw new ConfigError(`\`${key}\` is true or false.`);
    }
    normalised[key] = normalised[key] ?? true;
  }
  return normalised;
}

/** The integration's Demand sensors, by entity id. */
export function demandEntities(hass) {
  return Object.values(hass?.entities ?? {})
    .filter((entry) => entry.platform === DOMAIN && entry.translation_key === "demand")
    .map((entry) => entry.entity_id)
    .sort();
}

/** What the card picker shows: the first meter's Demand sensor. */
export function stubConfig(hass) {
  return { entity: demandEntities(hass)[0] ?? "", window: DEFAULT_WINDOW_MINUTES };
}

/** The meter behind a Demand sensor: its device id and its other entities by key. */
export function meterOf(hass, entityId) {
  const demand = hass?.entities?.[entityId];
  if (!demand || demand.platform !== DOMAIN || !demand.device_id) return null;
  const entities = {};
  for (const entry of Object.values(hass.entities)) {
    if (entry.device_id === demand.device_id && entry.platform === DOMAIN) {
      entities[entry.translation_key] = entry.entity_id;
    }
  }
  return { deviceId: demand.device_id, entities };
}
