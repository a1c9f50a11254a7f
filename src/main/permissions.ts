/**
 * API.md "Errors reach the call they concern": the server's 'Permissions Violation' -ERR names
 * a subject; a denied subscription to it ends with 'permissionsViolation' (its iterator throws
 * it), and requests whose publish to it was denied reject with it at once instead of timing out.
 */
import { NatsError } from '../shared/errors.js';
import type { RequestMux } from './request-mux.js';
import type { Subscriber } from './subscriber.js';

export function routePermissionViolation(
  message: string,
  mux: RequestMux,
  subs: readonly Subscriber[],
): void {
  const denied = /Permissions Violation for (Subscription|Publish) to "([^"]*)"/i.exec(message);
  if (denied === null) return;
  const [, what, subject] = denied;
  const error = new NatsError('permissionsViolation', message);
  if (what.toLowerCase() === 'publish') {
    mux.denied(subject, error);
    return;
  }
  for (const sub of subs) if (sub.subject === subject && !mux.owns(sub)) sub.fail(error);
}
