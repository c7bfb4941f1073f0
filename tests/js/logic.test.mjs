// The Live card's logic under Node's own test runner: `node --test tests/js/*.test.mjs`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  BAND_STYLES,
  ConfigError,
  EXPORT,
  barGeometry,
  bandFor,
  bandsFrom,
  chartScale,
  demandEntities,
  formatEnergy,
  formatMoney,
  formatTime,
  formatWatts,
  liveStatus,
  mergeSamples,
  meterOf,
  nearestSample,
  niceCeiling,
  normaliseConfig,
  stubConfig,
  timeTicks,
  windowOf,
  windowStats,
} from "../../custom_components/octopus_home_mini/frontend/octopus-home-mini-logic.js";

const ROOT = new URL("../../", import.meta.url);
const T0 = Date.UTC(2026, 2, 14, 12, 0, 0) / 1000; // 12:00:00 UTC, on a 10-s slot

/** `count` samples 10 s apart ending at `end`, each `watts(i)`. */
function run(count, end, watts) {
  return Array.from({ length: count }, (_, i) => [end - (count - 1 - i) * 10, watts(i)]);
}

/** The bands as the integration's feed sends them (its const.DEMAND_LEVELS). */
const LEVELS = [
  ["low", 500],
  ["normal", 1000],
  ["moderate", 2000],
  ["high", 3000],
  ["very_high", null],
];
const BANDS = bandsFrom(LEVELS);

test("the bands' bounds come from the feed; their colours are the README's", () => {
  assert.deepEqual(
    BANDS.map((band) => [band.key, band.upper]),
    LEVELS,
  );
  const readme = readFileSync(new URL("README.md", ROOT), "utf8");
  for (const [key, style] of Object.entries(BAND_STYLES)) {
    assert.match(readme, new RegExp(`color: "${style.color}"`, "i"), key);
  }
  // A band this card does not know (a newer integration's) is still drawn, in grey.
  const [unknown] = bandsFrom([["extreme", null]]);
  assert.deepEqual([unknown.key, unknown.label, unknown.color], ["extreme", "extreme", "#9e9e9e"]);
  assert.equal(bandFor(100, []), null); // before the feed has said
  assert.equal(bandFor(-100, []), EXPORT);
});

test("a demand falls into the band below whose upper bound it is; export has its own", () => {
  const cases = [
    [0, "low"],
    [499.9, "low"],
    [500, "normal"],
    [999, "normal"],
    [1000, "moderate"],
    [1999, "moderate"],
    [2000, "high"],
    [2999, "high"],
    [3000, "very_high"],
    [23000, "very_high"],
    [-1, "export"],
    [-4000, "export"],
  ];
  for (const [watts, key] of cases) assert.equal(bandFor(watts, BANDS).key, key, `${watts} W`);
  assert.notEqual(EXPORT.color, BANDS[0].color);
  assert.equal(new Set([...BANDS, EXPORT].map((band) => band.color)).size, 6);
});

test("merging feed messages: in order, no duplicates, replace starts over, what is kept", () => {
  const held = run(3, T0, () => 100);
  assert.deepEqual(mergeSamples(held, [[T0 - 10, 999], [T0 + 10, 200]], false), [
    [T0 - 20, 100],
    [T0 - 10, 999],
    [T0, 100],
    [T0 + 10, 200],
  ]);
  assert.deepEqual(mergeSamples(held, [[T0 + 10, 5]], true), [[T0 + 10, 5]]);
  const long = mergeSamples([], run(200, T0, (i) => i), false, 30 * 60);
  assert.equal(long.length, 180);
  assert.equal(long.at(-1)[0] - long[0][0], 30 * 60 - 10);
  assert.equal(mergeSamples([], run(200, T0, (i) => i), false, 10 * 60).length, 60);
  assert.equal(mergeSamples([], run(200, T0, (i) => i), false).length, 200); // not said yet
  assert.deepEqual(mergeSamples([], [], true), []);
});

test("the window ends at the newest sample and holds one sample per 10 s", () => {
  const samples = run(60, T0, () => 300);
  const window = windowOf(samples, 5);
  assert.equal(window.end, T0);
  assert.equal(window.start, T0 - 300);
  assert.equal(window.samples.length, 30);
  assert.equal(window.samples[0][0], T0 - 290);
  assert.equal(windowOf(samples, 30).samples.length, 60);
  assert.deepEqual(windowOf([], 5), { start: null, end: null, samples: [] });
});

test("window statistics: average, peak, minimum, net energy", () => {
  const stats = windowStats([
    [T0, 3600],
    [T0 + 10, 0],
    [T0 + 20, -360],
  ]);
  assert.equal(stats.count, 3);
  assert.equal(stats.average, 1080);
  assert.equal(stats.peak, 3600);
  assert.equal(stats.minimum, -360);
  assert.equal(stats.energyWh, 9); // (3600 + 0 - 360) W × 10 s = 9 Wh
  assert.equal(windowStats([]), null);
});

test("live while the newest sample is under 3 minutes old", () => {
  const samples = run(3, T0, () => 1);
  assert.deepEqual(liveStatus(samples, T0 + 179.9, 180), { live: true, newest: T0 });
  assert.deepEqual(liveStatus(samples, T0 + 180, 180), { live: false, newest: T0 });
  assert.deepEqual(liveStatus([], T0), { live: false, newest: null });
});

test("live by the meter's own rule once the feed gives it (a longer live interval)", () => {
  const samples = run(3, T0, () => 1);
  assert.deepEqual(liveStatus(samples, T0 + 400, 420), { live: true, newest: T0 });
  assert.deepEqual(liveStatus(samples, T0 + 420, 420), { live: false, newest: T0 });
  assert.deepEqual(liveStatus(samples, T0 + 400, undefined), { live: false, newest: T0 });
});

test("nice scale ceilings", () => {
  const cases = [
    [0, 0],
    [1, 1],
    [430, 500],
    [500, 500],
    [501, 1000],
    [1999, 2000],
    [2001, 2500],
    [2600, 5000],
    [7200, 10000],
  ];
  for (const [value, ceiling] of cases) assert.equal(niceCeiling(value), ceiling, String(value));
  assert.deepEqual(chartScale([[T0, 120]]), { top: 500, bottom: 0 });
  assert.deepEqual(chartScale([[T0, 2600], [T0 + 10, -700]]), { top: 5000, bottom: 1000 });
});

test("bar geometry: one bar per sample, in its slot, height to scale, coloured by band", () => {
  const samples = run(30, T0, (i) => (i === 29 ? 1250 : i === 0 ? -250 : 400));
  const window = windowOf(samples, 5);
  const { top, bottom, axis, bars } = barGeometry(window, 5, 300, 100, BANDS);
  assert.equal(bars.length, 30);
  assert.deepEqual([top, bottom], [2000, 250]);
  assert.ok(Math.abs(axis - (100 * 2000) / 2250) < 1e-9);
  // 300 units for 300 s: a bar fills 80 % of its 10-s slot, which ends at its sample.
  const last = bars.at(-1);
  assert.ok(Math.abs(last.x - 291) < 1e-9 && Math.abs(last.width - 8) < 1e-9);
  assert.ok(Math.abs(bars[0].x - 1) < 1e-9);
  assert.ok(Math.abs(last.y + last.height - axis) < 1e-9, "imports stand on the axis");
  assert.ok(Math.abs(last.height - (1250 / 2000) * axis) < 1e-9);
  assert.equal(last.color, bandFor(1250, BANDS).color);
  assert.equal(bars[0].y, axis, "exports hang from the axis");
  assert.ok(Math.abs(bars[0].height - (100 - axis)) < 1e-9); // the deepest export fills below
  assert.equal(bars[0].color, EXPORT.color);
  for (const bar of bars) {
    assert.ok(bar.x >= 0 && bar.x + bar.width <= 300 && bar.y >= 0 && bar.y + bar.height <= 100);
  }
  assert.equal(barGeometry(windowOf([], 5), 5, 300, 100, BANDS).bars.length, 0);
  // Before the feed has said the bands, bars are grey.
  assert.equal(barGeometry(window, 5, 300, 100, []).bars.at(-1).color, "#9e9e9e");
});

test("time axis: whole minutes, at most about six ticks, positioned across the window", () => {
  const five = timeTicks(T0 - 300 + 5, T0 + 5);
  assert.deepEqual(
    five.map((tick) => tick.time),
    [T0 - 240, T0 - 180, T0 - 120, T0 - 60, T0],
  );
  assert.ok(Math.abs(five.at(-1).at - 295 / 300) < 1e-12);
  const thirty = timeTicks(T0 - 1800, T0);
  assert.equal(thirty[1].time - thirty[0].time, 300);
  assert.ok(thirty.length <= 7);
  const ten = timeTicks(T0 - 600, T0);
  assert.equal(ten[1].time - ten[0].time, 120);
});

test("the sample under the pointer", () => {
  const window = windowOf(run(30, T0, (i) => i), 5);
  assert.equal(nearestSample(window, 5, 1)[0], T0);
  assert.equal(nearestSample(window, 5, 0)[0], T0 - 290);
  assert.equal(nearestSample(window, 5, 0.5)[0], T0 - 150);
  assert.equal(nearestSample(windowOf([], 5), 5, 0.5), null);
});

test("formatting: watts, energy, money in the sensor's unit, clock times in a zone", () => {
  assert.equal(formatWatts(1234.4, "en"), "1,234 W");
  assert.equal(formatWatts(-87.6, "en"), "-88 W");
  assert.equal(formatWatts(1234, "de"), "1.234 W");
  assert.equal(formatEnergy(9, "en"), "9.0 Wh");
  assert.equal(formatEnergy(1234, "en"), "1.23 kWh");
  assert.equal(formatMoney(1.5, "GBP", "en-GB"), "£1.50");
  assert.equal(formatMoney(0.1234, "GBP/h", "en-GB", 3), "£0.123/h");
  assert.equal(formatMoney(2, "XBTC", "en"), "2.00 XBTC"); // not a currency code: plain
  assert.equal(formatTime(T0, "en-GB", "Europe/London"), "12:00:00");
  assert.equal(formatTime(T0 + 3600 * 24 * 30, "en-GB", "Europe/London", false), "13:00"); // BST
});

test("config: defaults, and clear errors for what cannot work", () => {
  const config = normaliseConfig({ type: "custom:octopus-home-mini-card", entity: "sensor.x_demand" });
  assert.equal(config.window, 5);
  assert.deepEqual(
    [config.show_chart, config.show_stats, config.show_session, config.show_costs],
    [true, true, true, true],
  );
  assert.equal(normaliseConfig({ entity: "sensor.x", window: 30, show_costs: false }).show_costs, false);
  for (const bad of [
    undefined,
    {},
    { entity: "binary_sensor.x" },
    { entity: "sensor.x", window: 0 },
    { entity: "sensor.x", window: 31 },
    { entity: "sensor.x", window: 2.5 },
    { entity: "sensor.x", show_chart: "no" },
  ]) {
    assert.throws(() => normaliseConfig(bad), ConfigError, JSON.stringify(bad));
  }
});

test("the registry: the picker's stub is the first meter's Demand; a meter's entities", () => {
  const entry = (entity_id, device_id, translation_key, platform = "octopus_home_mini") => ({
    entity_id,
    device_id,
    translation_key,
    platform,
  });
  const hass = {
    entities: {
      "sensor.b_demand": entry("sensor.b_demand", "dev-b", "demand"),
      "sensor.a_demand": entry("sensor.a_demand", "dev-a", "demand"),
      "sensor.a_session_cost": entry("sensor.a_session_cost", "dev-a", "session_cost"),
      "button.a_reset_session": entry("button.a_reset_session", "dev-a", "reset_session"),
      "sensor.b_session_cost": entry("sensor.b_session_cost", "dev-b", "session_cost"),
      "sensor.other_power": entry("sensor.other_power", "dev-a", "demand", "shelly"),
    },
  };
  assert.deepEqual(demandEntities(hass), ["sensor.a_demand", "sensor.b_demand"]);
  assert.deepEqual(stubConfig(hass), { entity: "sensor.a_demand", window: 5 });
  assert.deepEqual(stubConfig({ entities: {} }), { entity: "", window: 5 });
  assert.deepEqual(meterOf(hass, "sensor.a_demand"), {
    deviceId: "dev-a",
    entities: {
      demand: "sensor.a_demand",
      session_cost: "sensor.a_session_cost",
      reset_session: "button.a_reset_session",
    },
  });
  assert.equal(meterOf(hass, "sensor.other_power"), null);
  assert.equal(meterOf(hass, "sensor.missing"), null);
});
