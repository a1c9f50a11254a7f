/**
 * When the command ring is pumped into the socket (outbound.ts does the pumping, flow-control.ts
 * says how much of it may be echo): at every kick (a socket chunk handled, the socket's
 * 'drain', a window PONG, new commands in the ring, deliveries caught up), again on a later
 * turn while more is waiting, and all of it at close(), waiting for the socket while its
 * buffer is full.
 */
import type { RingConsumer } from '../shared/ring/ring-consumer.js';
import type { Inbound } from './inbound.js';
import type { OutboundPump, PumpResult } from './outbound.js';
import type { Session } from './session.js';

export class PumpSchedule {
  private waitingForCommands = false;
  private pumpLater: NodeJS.Immediate | undefined;
  /** sendAll() waits for the socket's 'drain' through this. */
  private drainWaiter: (() => void) | undefined;

  constructor(
    private readonly commands: RingConsumer,
    private readonly outbound: OutboundPump,
    private readonly inbound: Inbound,
    /** The session of the connected loop, if it is. */
    private readonly session: () => Session | undefined,
    /** After each pump: statistics to shared memory. */
    private readonly pumped: () => void,
  ) {}

  /**
   * Pump the command ring to the socket. Commands wait in the ring while disconnected and
   * while the socket's buffer is full. Echo records (publishes this client receives itself)
   * also wait for room in the send window and, while deliveries back up, for the main thread
   * to read them (flow-control.ts); the pump stops before the first one that finds none.
   */
  kick(): void {
    const session = this.session();
    // A session that failed or is ending takes no more commands: they wait for the next one.
    if (session === undefined || !session.isOpen) return;
    // The socket's buffer is full: its 'drain' kicks again. A batch pumped now (at a socket
    // chunk, say) would be copied behind it, and back-pressure would not reach the publishers.
    if (session.output.socketFull) return;
    const window = session.output.echoRoom();
    const echoBudget = window > 0 ? Math.min(window, this.inbound.credit.budget()) : 0;
    const result = this.outbound.pump(session.output, echoBudget);
    this.pumped();
    // An UNSUB whose limit the worker had already reached frames a SUB_END as it passes;
    // outside a socket chunk nothing else would publish it.
    this.inbound.publish();
    if (result === 'more') {
      this.pumpLater ??= setImmediate(() => {
        this.pumpLater = undefined;
        this.kick();
      });
    } else if (result === 'empty') {
      this.awaitCommands();
    } else if (result === 'gated' && session.output.echoRoom() > 0) {
      this.inbound.credit.await(this.resumePump);
    }
    // 'blocked': the socket's 'drain' calls kick() again; 'gated' on the window: its PONG does.
  }

  private readonly resumePump = (): void => this.kick();

  private awaitCommands(): void {
    if (this.waitingForCommands) return;
    const wait = this.commands.waitForData();
    if (wait === undefined) {
      // A frame landed between the pump and the wait: go round again, after pending I/O.
      this.pumpLater ??= setImmediate(() => {
        this.pumpLater = undefined;
        this.kick();
      });
      return;
    }
    this.waitingForCommands = true;
    wait.then(() => {
      this.waitingForCommands = false;
      this.kick();
    });
  }

  /** The socket's buffer drained: a waiting {@link sendAll} goes on, and so does the pump. */
  drained(): void {
    const waiter = this.drainWaiter;
    this.drainWaiter = undefined;
    waiter?.();
    this.kick();
  }

  /** No pump on a later turn: the loop is closing. */
  stop(): void {
    clearImmediate(this.pumpLater);
  }

  /**
   * Pumps what the command ring holds into `session` while its socket takes it, echoes too (as
   * {@link sendAll} does), without waiting: forceReconnect() ends the socket next.
   */
  sendNow(session: Session): void {
    let result: PumpResult;
    do {
      result = this.outbound.pump(session.output);
      this.pumped();
    } while (result === 'more' && session.isOpen);
    this.inbound.publish(); // a SUB_END framed as an UNSUB passed (see kick)
  }

  /**
   * Pumps the whole command ring into `session`, waiting for the socket while it is full, for
   * `timeoutMs` at most.
   */
  async sendAll(session: Session, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const result = this.outbound.pump(session.output);
      this.pumped();
      if (result === 'empty' || !session.isOpen) return;
      if (result === 'blocked' && !(await this.socketDrained(deadline - performance.now()))) {
        return;
      }
    }
  }

  /** Resolves true at the socket's next 'drain', false after `ms` (or at once if ms ≤ 0). */
  private socketDrained(ms: number): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiter = undefined;
        resolve(false);
      }, ms);
      this.drainWaiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
