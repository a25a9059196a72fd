// The manager's wire: length-prefixed frames over a TCP connection, and the
// handshake that proves both ends know the authkey without sending it
// (HMAC-SHA256 over random nonces, compared in constant time, as CPython's
// `multiprocessing.connection` does). Messages are structured clone (the
// runtime's serializer), never code.
import { createHmac, randomBytes, timingSafeEqual } from "../runtime/network.ts";
import type { Socket } from "../runtime/network.ts";
import { getHost } from "../runtime/host.ts";

/** The largest frame either end accepts (64 MiB): a bigger one closes the connection. */
export const MAX_FRAME_BYTES: number = 64 * 1024 * 1024;
const NONCE_BYTES = 32;
const HANDSHAKE_MS = 10_000;

/** Writes one frame. */
export function sendFrame(socket: Socket, payload: Uint8Array): void {
  // One write (one segment on the wire for small frames).
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length, true);
  frame.set(payload, 4);
  socket.write(frame);
}

/** Splits what a connection reads into frames; throws on a frame over the limit. */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  #bytes = 0;

  /** Adds bytes read; returns the frames now complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#bytes < 4) return frames;
      const all = this.#joined();
      const length = new DataView(all.buffer, all.byteOffset, 4).getUint32(0, true);
      if (length > MAX_FRAME_BYTES) throw new RangeError(`a frame of ${length} bytes is over the limit of ${MAX_FRAME_BYTES}`);
      if (all.length < 4 + length) return frames;
      frames.push(all.slice(4, 4 + length));
      const rest = all.subarray(4 + length);
      this.#chunks = rest.length ? [rest] : [];
      this.#bytes = rest.length;
    }
  }

  #joined(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0];
    const all = new Uint8Array(this.#bytes);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.#chunks = [all];
    return all;
  }
}

/** The authkey as bytes (a string is taken as UTF-8). */
export function keyBytes(authkey: string | Uint8Array): Uint8Array {
  return typeof authkey === "string" ? new TextEncoder().encode(authkey) : authkey;
}

/** A new random authkey (32 bytes). */
export function newAuthkey(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

function digest(key: Uint8Array, nonce: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(nonce).digest());
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// Reads exactly one frame for the handshake (or fails on close, garbage or time).
function nextFrame(socket: Socket, reader: FrameReader, pending: Uint8Array[]): Promise<Uint8Array> {
  if (pending.length) return Promise.resolve(pending.shift()!);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error("the other end said nothing in time")), HANDSHAKE_MS);
    const onData = (chunk: Uint8Array) => {
      try {
        pending.push(...reader.push(chunk));
      } catch (error) {
        return done(error as Error);
      }
      if (pending.length) done(null, pending.shift()!);
    };
    const onEnd = () => done(new Error("the connection closed during the handshake"));
    const done = (error: Error | null, frame?: Uint8Array) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onEnd);
      socket.off("error", onEnd);
      if (error) reject(error);
      else resolve(frame!);
    };
    socket.on("data", onData);
    socket.on("close", onEnd);
    socket.on("error", onEnd);
  });
}

/**
 * The server's side of the handshake: challenges the client, answers its
 * challenge. Resolves with the frames read past the handshake, or rejects
 * (wrong key, garbage, silence): the caller closes the connection.
 */
export async function serverHandshake(socket: Socket, key: Uint8Array, reader: FrameReader): Promise<Uint8Array[]> {
  const pending: Uint8Array[] = [];
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  sendFrame(socket, nonce);
  const answer = await nextFrame(socket, reader, pending);
  // answer: HMAC of our nonce (32 bytes), then the client's own nonce.
  const ok = answer.length === 32 + NONCE_BYTES && same(answer.subarray(0, 32), digest(key, nonce));
  if (!ok) {
    sendFrame(socket, Uint8Array.of(0));
    throw new Error("wrong authkey");
  }
  const reply = new Uint8Array(33);
  reply[0] = 1;
  reply.set(digest(key, answer.subarray(32)), 1);
  sendFrame(socket, reply);
  return pending;
}

/**
 * The client's side: answers the server's challenge and checks the
 * server's answer to its own. Rejects with the reason; resolves with the
 * frames read past the handshake.
 */
export async function clientHandshake(socket: Socket, key: Uint8Array, reader: FrameReader): Promise<Uint8Array[]> {
  const pending: Uint8Array[] = [];
  const challenge = await nextFrame(socket, reader, pending);
  if (challenge.length !== NONCE_BYTES) throw new Error("the server does not speak the manager protocol");
  const mine = new Uint8Array(randomBytes(NONCE_BYTES));
  const answer = new Uint8Array(32 + NONCE_BYTES);
  answer.set(digest(key, challenge), 0);
  answer.set(mine, 32);
  sendFrame(socket, answer);
  const reply = await nextFrame(socket, reader, pending);
  if (reply[0] !== 1) throw new AuthRefused("the manager refused the authkey");
  if (reply.length !== 33 || !same(reply.subarray(1), digest(key, mine))) {
    throw new AuthRefused("the manager does not know the authkey (its answer to our challenge is wrong)");
  }
  return pending;
}

/** The handshake failed because of the key (not the network). */
export class AuthRefused extends Error {}

/** A message as bytes. */
export function encodeMessage(message: unknown): Uint8Array {
  return getHost().serialize(message);
}

/** Bytes back to a message. */
export function decodeMessage(bytes: Uint8Array): unknown {
  return getHost().deserialize(bytes);
}
