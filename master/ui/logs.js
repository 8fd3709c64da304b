// A live tail of one sandbox file, read through the master's /files/read with offsets: it
// asks for what follows the last byte it has, waits a little when nothing is new, and stops
// once the task is terminal and the file is drained.

const CHUNK = 65536;
const IDLE_MS = 500;
const KEEP_CHARS = 512 * 1024;
const MAX_FAILURES = 8;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Tail {
  constructor(taskId, file, pre, status) {
    this.taskId = taskId;
    this.file = file;
    this.pre = pre;
    this.status = status;
    this.offset = 0;
    this.stopped = false;
    this.failures = 0;
  }

  start() {
    this.run().catch((err) => this.say(`stopped: ${err.message}`, "error"));
    return this;
  }

  stop() {
    this.stopped = true;
  }

  async run() {
    this.say("loading…", "loading");
    while (!this.stopped) {
      const chunk = await this.read();
      if (this.stopped) return;
      if (chunk === null) {
        if (this.failures >= MAX_FAILURES) return;
        await sleep(IDLE_MS * 2 ** Math.min(this.failures, 4));
        continue;
      }
      this.append(chunk.data);
      this.offset = chunk.next_offset;
      if (chunk.length > 0) continue;
      if (!chunk.growing) {
        this.say(`complete · ${chunk.size} bytes`, "complete");
        return;
      }
      this.say(`following · ${chunk.size} bytes`, "following");
      await sleep(IDLE_MS);
    }
  }

  /** The next chunk, or null after a failure (already shown). */
  async read() {
    const query = new URLSearchParams({
      task_id: this.taskId, file: this.file, offset: String(this.offset), length: String(CHUNK),
    });
    try {
      const response = await fetch(`files/read?${query}`, { cache: "no-store" });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
      this.failures = 0;
      return body;
    } catch (err) {
      this.failures += 1;
      const giveUp = this.failures >= MAX_FAILURES;
      this.say(`${giveUp ? "gave up" : "retrying"}: ${err.message}`, "error");
      return null;
    }
  }

  append(text) {
    if (!text) return;
    const pre = this.pre;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    let content = pre.textContent + text;
    if (content.length > KEEP_CHARS) content = content.slice(content.length - KEEP_CHARS);
    pre.textContent = content;
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  say(text, kind) {
    this.status.textContent = text;
    this.status.dataset.status = kind;
  }
}
