// The card's module loads (every name it uses at load time exists) and registers its elements
// once Home Assistant's app is defined; its DOM behaviour is the end-to-end test's.
import assert from "node:assert/strict";
import { test } from "node:test";

test("the card module loads and registers the card and its editor with the picker", async () => {
  const defined = new Map();
  let appDefined;
  globalThis.HTMLElement = class {};
  globalThis.window = {
    customElements: {
      get: (name) => defined.get(name),
      define: (name, element) => defined.set(name, element),
      whenDefined: (name) =>
        name === "home-assistant" ? new Promise((resolve) => (appDefined = resolve)) : new Promise(() => {}),
    },
  };
  await import("../../custom_components/octopus_home_mini/frontend/octopus-home-mini-card.js");
  assert.equal(defined.size, 0, "nothing is defined before the app is");
  appDefined();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual([...defined.keys()], ["octopus-home-mini-card", "octopus-home-mini-card-editor"]);
  assert.deepEqual(
    window.customCards.map((card) => [card.type, card.preview]),
    [["octopus-home-mini-card", true]],
  );
  const card = defined.get("octopus-home-mini-card");
  assert.equal(typeof card.getConfigElement, "function");
  assert.deepEqual(card.getStubConfig({ entities: {} }), { entity: "", window: 5 });
});
