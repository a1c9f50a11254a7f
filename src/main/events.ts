import type { WireEvent } from '../shared/control.js';
import { fromWire, type NatsError } from '../shared/errors.js';

/** Connection events, delivered to `eventCallback` on the caller's thread. */
export type Event =
  | { type: 'connected' }
  | { type: 'disconnected' }
  | { type: 'lameDuckMode' }
  | { type: 'draining' }
  | { type: 'closed' }
  | { type: 'slowConsumer'; sid: number }
  | { type: 'serverError'; error: NatsError }
  | { type: 'clientError'; error: NatsError };

/** `'pending' → 'connected' ⇄ 'disconnected' → 'closed'`. */
export type State = 'pending' | 'connected' | 'disconnected' | 'closed';

export function fromWireEvent(event: WireEvent): Event {
  if (event.type === 'serverError' || event.type === 'clientError') {
    return { type: event.type, error: fromWire(event.error) };
  }
  return event;
}
