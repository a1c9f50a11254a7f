import type { EventOf, WireEvent } from '../shared/control.js';
import { fromWire, type NatsError } from '../shared/errors.js';

/** Connection events, delivered to `eventCallback` on the caller's thread. */
export type Event = EventOf<NatsError>;

/** `'pending' → 'connected' ⇄ 'disconnected' → 'closed'`. */
export type State = 'pending' | 'connected' | 'disconnected' | 'closed';

export function fromWireEvent(event: WireEvent): Event {
  if (event.type === 'serverError' || event.type === 'clientError') {
    return { type: event.type, error: fromWire(event.error) };
  }
  if (event.type === 'connected') return { type: 'connected' };
  return event;
}
