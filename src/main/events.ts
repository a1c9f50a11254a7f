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

/** Events waiting for the callback's call on an earlier one to settle, before the oldest is lost. */
export const CALLBACK_BACKLOG = 1024;

/**
 * Hands events to the user's `eventCallback` one at a time, in order, as async-nats does: an
 * async callback's promise settles before the next event is handed over (a 'connected' handler
 * cannot finish before the 'disconnected' one before it). A call that has not settled within
 * `bound` ms (connectionTimeout) is reported and the next event goes on; while calls wait, at
 * most {@link CALLBACK_BACKLOG} events do, losing the oldest as a status() reader does.
 *
 * What the callback throws, or its promise rejects with, or one that does not settle, is
 * reported through `report` (to status() readers and back to the callback) as a `clientError`
 * of kind 'callback'; a failure on such a report is not reported again (a callback that throws
 * on everything would loop).
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
  /** Events that came while a call was unsettled, oldest first. */
  private readonly waiting: Event[] = [];
  private calling = false;

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
    if (this.calling) {
      if (this.waiting.length === CALLBACK_BACKLOG) this.waiting.shift();
      this.waiting.push(event);
    } else this.handOver(event);
  }

  /** Calls the callback with `event`, then with what waits, until a call does not settle at once. */
  private handOver(first: Event): void {
    for (let event: Event | undefined = first; event !== undefined; event = this.waiting.shift()) {
      const unsettled = this.call(event);
      if (event.type === 'connected') this.heardConnected();
      if (unsettled !== undefined) {
        this.calling = true;
        void unsettled.then(() => {
          this.calling = false;
          const next = this.waiting.shift();
          if (next !== undefined) this.handOver(next);
        });
        return;
      }
    }
  }

  /** Undefined when the call is over; else a promise that settles when it is, or at the bound. */
  private call(event: Event): Promise<void> | undefined {
    const cb = this.callback;
    if (!cb) return undefined;
    let result: unknown;
    try {
      result = cb(event);
    } catch (error) {
      this.threw(event, error);
      return undefined;
    }
    if (result === undefined) return undefined;
    return new Promise((over) => {
      let settled = false;
      const end = (failure?: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        failure?.();
        over();
      };
      const timer = setTimeout(
        () =>
          end(() =>
            this.failed(event, `did not settle within ${this.bound} ms on a '${event.type}' event`),
          ),
        this.bound,
      );
      timer.unref(); // an unsettled handler does not keep the process alive
      Promise.resolve(result).then(
        () => end(),
        (thrown: unknown) => end(() => this.threw(event, thrown)),
      );
    });
  }

  private threw(event: Event, thrown: unknown): void {
    this.failed(event, `failed on a '${event.type}' event: ${describeError(thrown)}`, thrown);
  }

  private failed(event: Event, what: string, cause?: unknown): void {
    if (this.reports.has(event)) return;
    const report: Event = {
      type: 'clientError',
      error: new NatsError('callback', `eventCallback ${what}`, { cause }),
    };
    this.reports.add(report);
    this.report(report);
  }
}
