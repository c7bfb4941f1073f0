// The Live card's sample feed against a stand-in for the frontend's connection: what it
// subscribes to, what it keeps, and how it comes back after a restart or a refusal.
import assert from "node:assert/strict";
import { test } from "node:test";

import { RETRY_MS, SampleFeed } from "../../custom_components/octopus_home_mini/frontend/octopus-home-mini-feed.js";

const LIMITS = { bands: [["low", 500], ["very_high", null]], keep_s: 60 };

/** The frontend's Connection as the feed uses it: subscriptions answered by the test. */
class Connection {
  constructor() {
    this.subscriptions = [];
    this.listeners = new Map();
  }

  subscribeMessage(callback, message, options) {
    let answer;
    const promise = new Promise((resolve, reject) => {
      answer = { resolve, reject };
    });
    const subscription = { callback, message, options, ...answer, closed: false };
    this.subscriptions.push(subscription);
    return promise;
  }

  accept(index = -1) {
    const subscription = this.subscriptions.at(index);
    subscription.resolve(() => {
      subscription.closed = true;
    });
    return subscription;
  }

  addEventListener(kind, listener) {
    this.listeners.set(kind, [...(this.listeners.get(kind) ?? []), listener]);
  }

  removeEventListener(kind, listener) {
    this.listeners.set(
      kind,
      (this.listeners.get(kind) ?? []).filter((each) => each !== listener),
    );
  }

  fire(kind) {
    for (const listener of this.listeners.get(kind) ?? []) listener(this);
  }
}

/** setTimeout/clearTimeout the test runs by hand. */
class Timers {
  constructor() {
    this.pending = new Map();
    this.next = 1;
    this.set = (callback, ms) => {
      const id = this.next++;
      this.pending.set(id, { callback, ms });
      return id;
    };
    this.clear = (id) => this.pending.delete(id);
  }

  runAll() {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const { callback } of due) callback();
  }
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

function feed() {
  const connection = new Connection();
  const timers = new Timers();
  let changes = 0;
  const sampleFeed = new SampleFeed(() => changes++, timers);
  return { connection, timers, sampleFeed, changes: () => changes };
}

test("one subscription per meter, not the library's resubscription; the feed's limits apply", async () => {
  const { connection, sampleFeed, changes } = feed();
  sampleFeed.follow(connection, "dev-a");
  sampleFeed.follow(connection, "dev-a"); // every hass update calls it
  assert.equal(connection.subscriptions.length, 1);
  const subscription = connection.accept();
  assert.deepEqual(subscription.message, { type: "octopus_home_mini/samples/subscribe", device_id: "dev-a" });
  assert.deepEqual(subscription.options, { resubscribe: false });
  assert.equal(sampleFeed.subscribed, true);

  const samples = Array.from({ length: 10 }, (_, i) => [1000 + i * 10, 100 * i]);
  subscription.callback({ samples, replace: true, online_within: 180, limits: LIMITS });
  // keep_s 60: the newest minute, (1030, 1090].
  assert.deepEqual(sampleFeed.samples.map((pair) => pair[0]), [1040, 1050, 1060, 1070, 1080, 1090]);
  assert.deepEqual(sampleFeed.bands.map((band) => [band.key, band.upper]), LIMITS.bands);
  assert.equal(sampleFeed.onlineWithin, 180);
  subscription.callback({ samples: [[1100, 5]], replace: false, online_within: 420 });
  assert.equal(sampleFeed.samples.at(-1)[0], 1100);
  assert.equal(sampleFeed.onlineWithin, 420);
  assert.equal(changes(), 2);
});

test("after a restart the connection comes back and the feed subscribes again", async () => {
  const { connection, sampleFeed } = feed();
  sampleFeed.follow(connection, "dev-a");
  const before = connection.accept();
  before.callback({ samples: [[1000, 1]], replace: true, online_within: 180, limits: LIMITS });
  connection.fire("ready"); // the websocket reconnected: the server forgot the subscription
  assert.equal(connection.subscriptions.length, 2);
  const after = connection.accept();
  assert.equal(after.message.device_id, "dev-a");
  before.callback({ samples: [[1010, 99]], replace: false }); // the old one is not listened to
  assert.deepEqual(sampleFeed.samples, [[1000, 1]]);
  after.callback({ samples: [[1020, 2]], replace: true, online_within: 180, limits: LIMITS });
  assert.deepEqual(sampleFeed.samples, [[1020, 2]]);
});

test("a refusal (the meter still loading) is said, and retried after a while", async () => {
  const { connection, timers, sampleFeed } = feed();
  sampleFeed.follow(connection, "dev-a");
  connection.subscriptions[0].reject({ code: "not_found", message: "No loaded meter" });
  await settled();
  assert.equal(sampleFeed.subscribed, false);
  assert.match(sampleFeed.error, /not loaded/);
  sampleFeed.follow(connection, "dev-a"); // a hass update while waiting: no storm of requests
  assert.equal(connection.subscriptions.length, 1);
  assert.deepEqual([...timers.pending.values()].map((t) => t.ms), [RETRY_MS]);
  timers.runAll();
  assert.equal(connection.subscriptions.length, 2);
  assert.equal(sampleFeed.error, "");
  connection.subscriptions[1].reject({ code: "unauthorized", message: "Unauthorized" });
  await settled();
  assert.equal(sampleFeed.error, "No live samples: Unauthorized");
});

test("another meter starts over; closing unsubscribes and stops listening", async () => {
  const { connection, timers, sampleFeed } = feed();
  sampleFeed.follow(connection, "dev-a");
  const first = connection.accept();
  first.callback({ samples: [[1000, 1]], replace: true, online_within: 180, limits: LIMITS });
  sampleFeed.follow(connection, "dev-b");
  await settled();
  assert.equal(first.closed, true);
  assert.deepEqual(sampleFeed.samples, []);
  assert.equal(connection.subscriptions.at(-1).message.device_id, "dev-b");
  const second = connection.accept();
  sampleFeed.close();
  await settled();
  assert.equal(second.closed, true);
  assert.deepEqual(connection.listeners.get("ready"), []);
  connection.fire("ready");
  assert.equal(connection.subscriptions.length, 2); // closed: nothing more
  assert.equal(timers.pending.size, 0);
});
