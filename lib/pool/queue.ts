// The pool's FIFO of chunks waiting for a worker. Chunks a call drops
// (aborted, or after its first error) stay in place, marked settled, and
// are skipped when they come up: dropping is O(1) whatever the queue holds.
import type { Chunk } from "./worker.ts";

/** Chunks waiting for a worker, oldest first. */
export class ChunkQueue {
  #items: Chunk[] = [];
  #head = 0;

  /** Whether anything is left (dropped chunks not yet skipped count too). */
  get isEmpty(): boolean {
    return this.#head >= this.#items.length;
  }

  /** Adds chunks at the back. */
  push(chunks: readonly Chunk[]): void {
    for (const c of chunks) this.#items.push(c);
  }

  /** Puts chunks back at the front, in their order (a dead worker's unstarted ones). */
  pushFront(chunks: readonly Chunk[]): void {
    if (chunks.length > 0) this.#items.splice(this.#head, 0, ...chunks);
  }

  /** The oldest chunk still waiting, skipping dropped ones; it stays queued. */
  peek(): Chunk | undefined {
    while (this.#head < this.#items.length) {
      const chunk = this.#items[this.#head];
      if (chunk.state === "queued") return chunk;
      this.#head++;
    }
    return undefined;
  }

  /** Removes the chunk peek() returned. */
  shift(): void {
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Empties the queue, returning what it held. */
  takeAll(): Chunk[] {
    const all = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return all;
  }
}
