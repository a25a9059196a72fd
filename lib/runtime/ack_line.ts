// The acknowledgement line: how a Node child process tells its parent, at
// the cost of one write to a pipe, that it took an item it had borrowed
// from a queue the parent owns (lib/queue/remote.ts). The parent reads it
// only when it must: when the child asks for more items (which says how
// many it has written since), and when the child ends (what it took is
// then not put back). A write to a pipe that nobody waits on costs here
// about 2.7 us against 4.3 us on a socket the parent's event loop watches
// (the request line), most of what a child consumer pays per item.
//
// One FIFO per parent process, made with `mkfifo` the first time a child
// process is started (Node can make no pipe otherwise), opened at both
// ends and unlinked at once: every child gets the write end as fd 7, and
// writes fixed records (u32 token of the child, u32 ring, u32 number), each
// in one write, so records of many children never interleave. Both ends
// are non-blocking: a child that finds it full (the parent has not read it
// for a long while) says the same on its request line instead.
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, readSync, unlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";

/** Bytes in one record: u32 child token, u32 ring, u32 number (little-endian). */
export const ACK_RECORD = 12;

/** The parent's end of the acknowledgement line. */
export interface AckLine {
  /** The write end, for a child's stdio. */
  readonly writeFd: number;
  /**
   * Reads the records written since the last read, passing each run of
   * whole records to `each` (a view, good until it returns): what is there
   * now, without waiting; `all`: until none is left, otherwise one read,
   * which is enough after a child said how many it wrote.
   */
  read(all: boolean, each: (records: Uint8Array) => void): void;
}

let made: AckLine | null | undefined;

/** This process's acknowledgement line, made on first call; null where it cannot be made. */
export function makeAckLine(): AckLine | null {
  if (made === undefined) {
    try {
      made = open();
    } catch {
      made = null; // no mkfifo here: acknowledgements go on the request line
    }
  }
  return made;
}

/** The acknowledgement line if this process made one. */
export function ackLineIfMade(): AckLine | null {
  return made ?? null;
}

function open(): AckLine {
  const name = path.join(os.tmpdir(), `multiproc-acks-${process.pid}-${Math.random().toString(36).slice(2)}`);
  execFileSync("mkfifo", ["-m", "600", name], { stdio: "ignore", timeout: 5000 });
  let readFd = -1;
  try {
    // (the read end first: a FIFO opened for writing without blocking
    // needs a reader)
    readFd = openSync(name, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(name, constants.O_WRONLY | constants.O_NONBLOCK);
    return reader(readFd, writeFd);
  } catch (error) {
    if (readFd >= 0) closeSync(readFd);
    throw error;
  } finally {
    unlinkSync(name);
  }
}

function reader(readFd: number, writeFd: number): AckLine {
  const buf = new Uint8Array(64 * 1024);
  // Bytes of a record whose rest was not there yet (a read ends where the
  // buffer does, not where a record does).
  let kept = 0;
  return {
    writeFd,
    read(all, each) {
      for (;;) {
        let n = 0;
        try {
          n = readSync(readFd, buf, kept, buf.length - kept, null);
        } catch (error) {
          if ((error as { code?: string }).code !== "EAGAIN") throw error;
        }
        const got = kept + n;
        const whole = got - (got % ACK_RECORD);
        if (whole) each(buf.subarray(0, whole));
        buf.copyWithin(0, whole, got);
        kept = got - whole;
        // (a read that did not fill the buffer found the pipe emptied)
        if (n === 0 || (!all && got < buf.length)) break;
      }
    },
  };
}
