// What the manager (lib/manager) asks of the runtime: TCP, an HMAC, random
// bytes, a constant-time comparison and deep equality. Node's modules, which
// Deno and Bun provide too; kept here, at the seam, as every other runtime
// facility is.
export { createServer, connect, type Server, type Socket } from "node:net";
export { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
export { isDeepStrictEqual } from "node:util";
