import type { EventOf, WireEvent } from '../shared/control.js';
import { describeError } from '../shared/describe.js';
import { fromWire, NatsError } from '../shared/errors.js';

/** Connection events, delivered to `eventCallback` on the caller's thread. */
export type Event = EventOf<NatsError>;

/** `'pending' → 'connected' ⇄ 'disconnected' → 'closed'`. */
export type State = 'pending' | 'connected' | 'disconnected' | 'closed';

export function fromWireEvent(event: WireEvent): Event {
  if (event.type === 'serverError' || event.type === 'clientError') {
    return { type: event.type, error: fromWire(event.error) };
  }
  if (event.type === 'disconnected') {
    return event.error === undefined
      ? { type: 'disconnected' }
      : { type: 'disconnected', error: fromWire(event.error) };
  }
  if (event.type === 'connected') return { type: 'connected' };
  return event;
}

/**
 * Hands events to the user's `eventCallback` as they come, on the thread that created the
 * client: each call starts when its event is emitted, so the client's state (serverInfo(),
 * serverPool(), connectionState()) describes that event while its handler starts (API.md "What
 * you observe is consistent"); an async handler's promise is not awaited before the next event.
 *
 * What the callback throws, what its promise rejects with, and a promise still unsettled after
 * `bound` ms (connectionTimeout) are reported once, through `report` (to status() readers and
 * back to the callback), as a `clientError` of kind 'callback'; a failure on such a report is
 * not reported again (a callback that throws on everything would loop), nor one once 'closed'
 * has been handed over ('closed' is the last event).
 */
export class EventSink {
  /**
   * Settles once the first 'connected' event has been handed to the callback: connect()
   * resolves after it, so code after `await connect()` has heard it.
   */
  readonly connected: Promise<void>;
  private heardConnected!: () => void;
  /** The reports of failed calls: a failure on one of these ends there. */
  private readonly reports = new WeakSet<Event>();
  /** 'closed' has been handed over: it is the last event, so failures are no longer reported. */
  private ended = false;

  constructor(
    private readonly callback: ((event: Event) => void | Promise<void>) | undefined,
    private readonly bound: number,
    private readonly report: (event: Event) => void,
  ) {
    this.connected = new Promise((resolve) => {
      this.heardConnected = resolve;
    });
  }

  emit(event: Event): void {
    if (event.type === 'closed') this.ended = true;
    this.call(event);
    if (event.type === 'connected') this.heardConnected();
  }

  private call(event: Event): void {
    const cb = this.callback;
    if (!cb) return;
    let result: unknown;
    try {
      result = cb(event);
    } catch (thrown) {
      this.threw(event, thrown);
      return;
    }
    if (result === undefined) return;
    let settled: Promise<unknown>;
    try {
      settled = Promise.resolve(result);
    } catch (thrown) {
      // A promise whose `constructor` getter throws: connect() and close() must go on.
      this.threw(event, thrown);
      return;
    }
    let reported = false;
    const timer = setTimeout(() => {
      reported = true;
      this.failed(event, `did not settle within ${this.bound} ms on a '${event.type}' event`);
    }, this.bound);
    timer.unref(); // an unsettled handler does not keep the process alive
    const failed = (thrown: unknown) => {
      clearTimeout(timer);
      if (!reported) this.threw(event, thrown);
    };
    try {
      settled.then(() => clearTimeout(timer), failed);
    } catch (thrown) {
      failed(thrown); // its own `then` threw
    }
  }

  private threw(event: Event, thrown: unknown): void {
    this.failed(event, `failed on a '${event.type}' event: ${describeError(thrown)}`, thrown);
  }

  private failed(event: Event, what: string, cause?: unknown): void {
    if (this.ended || this.reports.has(event)) return;
    const report: Event = {
      type: 'clientError',
      error: new NatsError('callback', `eventCallback ${what}`, { cause }),
    };
    this.reports.add(report);
    this.report(report);
  }
}
