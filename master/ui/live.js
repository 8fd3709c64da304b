// The live connection: one EventSource on /events. Each `state` event carries the master's
// state; `ping` events arrive every few seconds, so silence means the stream is dead even
// when the browser has not noticed yet.

const STALE_AFTER_MS = 25000;
const MAX_BACKOFF_MS = 10000;
const HISTORY_SECONDS = 300;

export class Live {
  /** `onState(state)` runs for every state the master sends; `badge` shows the connection. */
  constructor(badge, onState) {
    this.badge = badge;
    this.onState = onState;
    this.history = [];
    this.backoff = 1000;
    this.lastHeard = 0;
    this.source = null;
    setInterval(() => this.checkStale(), 5000);
  }

  connect() {
    this.source?.close();
    this.show("connecting", this.history.length ? "reconnecting" : "connecting");
    const source = new EventSource("events");
    this.source = source;
    source.addEventListener("open", () => {
      this.heard();
      this.backoff = 1000;
      this.show("live", "live");
    });
    source.addEventListener("ping", () => this.heard());
    source.addEventListener("state", (event) => {
      this.heard();
      this.show("live", "live");
      this.receive(event.data);
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the master answered with an error): retry ourselves.
        this.show("offline", "offline – retrying");
        setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
      } else {
        this.show("reconnecting", "reconnecting");
      }
    });
  }

  receive(data) {
    let state;
    try {
      state = JSON.parse(data);
    } catch (err) {
      console.error("the master sent a state that is not JSON", err);
      return;
    }
    this.remember(state);
    this.onState(state);
  }

  /** Keeps cluster totals for the overview's charts, a few minutes' worth. */
  remember(state) {
    const r = state.resources ?? {};
    const t = state.generated_at || Date.now() / 1000;
    this.history.push({ t, total: r.total ?? {}, used: r.used ?? {}, offered: r.offered ?? {} });
    while (this.history.length > 2 && this.history[1].t < t - HISTORY_SECONDS) this.history.shift();
  }

  heard() {
    this.lastHeard = Date.now();
  }

  checkStale() {
    const open = this.source?.readyState === EventSource.OPEN;
    if (open && Date.now() - this.lastHeard > STALE_AFTER_MS) this.connect();
  }

  show(kind, text) {
    this.badge.className = `badge ${kind}`;
    this.badge.textContent = text;
    this.badge.dataset.status = kind;
  }
}

export { HISTORY_SECONDS };
