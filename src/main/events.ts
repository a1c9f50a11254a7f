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
 * Hands events to the user's `eventCallback`. What the callback throws, or its promise rejects
 * with, is reported to it as a `clientError` of kind 'callback'; a throw on such a report is
 * not reported again (a callback that throws on everything would loop).
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

  constructor(private readonly callback: ((event: Event) => void | Promise<void>) | undefined) {
    this.connected = new Promise((resolve) => {
      this.heardConnected = resolve;
    });
  }

  emit(event: Event): void {
    this.call(event);
    if (event.type === 'connected') this.heardConnected();
  }

  private call(event: Event): void {
    const cb = this.callback;
    if (!cb) return;
    try {
      const result: unknown = cb(event);
      if (result !== undefined) {
        Promise.resolve(result).catch((error: unknown) => this.failed(event, error));
      }
    } catch (error) {
      this.failed(event, error);
    }
  }

  private failed(event: Event, error: unknown): void {
    if (this.reports.has(event)) return;
    const report: Event = {
      type: 'clientError',
      error: new NatsError(
        'callback',
        `eventCallback failed on a '${event.type}' event: ${describeError(error)}`,
        { cause: error },
      ),
    };
    this.reports.add(report);
    this.emit(report);
  }
}
