// The Live card's sample feed: one websocket subscription to a meter's samples, kept alive
// across Home Assistant restarts, reloads and lost connections. No DOM: Node's test runner
// drives it with a stand-in for the frontend's connection (tests/js/).
import { SUBSCRIBE, bandsFrom, mergeSamples } from "./octopus-home-mini-logic.js";

/** After a refused subscription (the meter not loaded yet, as while Home Assistant starts),
 * the next try comes this much later. */
export const RETRY_MS = 10_000;

export class SampleFeed {
  /**
   * `onChange()` is called after each message and each change of state; `timers` are
   * setTimeout/clearTimeout (replaceable in tests).
   */
  constructor(onChange, timers = { set: setTimeout, clear: clearTimeout }) {
    this._onChange = onChange;
    this._timers = timers;
    /** [epoch s, W] pairs, oldest first. */
    this.samples = [];
    /** The demand bands, how long a sample counts as live (s), how much the integration
     * keeps (s): all from the feed. */
    this.bands = [];
    this.onlineWithin = undefined;
    this.keepSeconds = undefined;
    /** Why there is no subscription now ("" while subscribed or subscribing). */
    this.error = "";
    this._connection = null;
    this._deviceId = null;
    this._subscription = null;
    this._retry = null;
    this._ready = () => this._resubscribe();
  }

  /** Whether a subscription is open or being opened. */
  get subscribed() {
    return this._subscription !== null;
  }

  /** Follow `deviceId`'s samples over `connection`; idempotent, so call it on every update. */
  follow(connection, deviceId) {
    if (connection !== this._connection) {
      this.close();
      this._connection = connection;
      connection.addEventListener("ready", this._ready);
    }
    if (deviceId !== this._deviceId) {
      this._drop();
      this._deviceId = deviceId;
      this.samples = [];
    }
    if (!this._subscription && !this._retry) this._subscribe();
  }

  /** Stop: no subscription, no retry, no listener on the connection, no samples. */
  close() {
    this._drop();
    this.samples = [];
    this._connection?.removeEventListener("ready", this._ready);
    this._connection = null;
    this._deviceId = null;
  }

  _drop() {
    const subscription = this._subscription;
    this._subscription = null;
    subscription?.unsubscribe.then((unsubscribe) => unsubscribe?.()).catch(() => {});
    if (this._retry) this._timers.clear(this._retry);
    this._retry = null;
  }

  /** The connection is back (Home Assistant restarted, or the network dropped): the server
   * has forgotten the subscription, so it is made again. */
  _resubscribe() {
    if (this._deviceId === null) return;
    this._subscription = null; // nothing to unsubscribe: it died with the old connection
    if (this._retry) this._timers.clear(this._retry);
    this._retry = null;
    this._subscribe();
  }

  _subscribe() {
    const subscription = {};
    this._subscription = subscription;
    this.error = "";
    subscription.unsubscribe = this._connection
      .subscribeMessage(
        (message) => this._message(subscription, message),
        { type: SUBSCRIBE, device_id: this._deviceId },
        // Not the library's resubscription: one that fails (the meter still loading after a
        // restart) would be dropped silently. _resubscribe does it, and retries.
        { resubscribe: false },
      )
      .catch((err) => {
        if (this._subscription === subscription) {
          this._subscription = null;
          this.error =
            err?.code === "not_found"
              ? "The meter is not loaded (yet): trying again."
              : `No live samples: ${err?.message ?? err?.code ?? err}`;
          this._retry = this._timers.set(() => {
            this._retry = null;
            if (this._connection && !this._subscription) this._subscribe();
          }, RETRY_MS);
          this._onChange();
        }
        return null;
      });
  }

  _message(subscription, message) {
    if (this._subscription !== subscription) return;
    if (message.limits) {
      this.bands = bandsFrom(message.limits.bands);
      this.keepSeconds = message.limits.keep_s;
    }
    if (typeof message.online_within === "number") this.onlineWithin = message.online_within;
    this.samples = mergeSamples(this.samples, message.samples, message.replace, this.keepSeconds);
    this._onChange();
  }
}
