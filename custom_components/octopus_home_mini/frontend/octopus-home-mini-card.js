import { BANDS } from "./octopus-home-mini-logic.js"; customElements.define("octopus-home-mini-card", class extends HTMLElement {});
