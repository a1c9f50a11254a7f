/**
 * nats.js `requestMany` with its strategies, on `Client.requestMany` (one inbox of its own,
 * replies waiting in the core's bounded queue, "no responders" on the first reply, limits
 * that run from the request): `timer` is its `maxWait`, `count` its `maxMessages` (and
 * `maxWait`), `sentinel` ends here at the first empty reply (which is delivered). `stall` —
 * `maxWait` for the first reply, then `stall` ms (default 300) after each, with no limit in
 * all — is the one timer kept here: the core's stall counts from the request and keeps
 * `maxWait` as a limit in all.
 */

import { errors, type Msg, type Payload, type RequestManyOptions } from '@nats-io/nats-core';
import type { Message } from '../main/message.js';
import {
  type RequestManyOptions as CoreRequestManyOptions,
  checkRequestManyOption,
} from '../main/request-many.js';
import { NatsError } from '../shared/errors.js';
import { toNatsJsError } from './errors.js';
import { CompatMsg, type MsgHost, toHeaderMap } from './msg.js';

export interface RequestManyHost extends MsgHost {
  requestMany(
    subject: string,
    payload: Payload | undefined,
    opts: CoreRequestManyOptions,
  ): AsyncIterable<Message>;
}

const DEFAULT_MAX_WAIT = 1000;
const DEFAULT_STALL = 300;

/** Bad options reject, as nats.js's do; the request is sent before this resolves. */
export async function requestMany(
  host: RequestManyHost,
  subject: string,
  payload: Payload | undefined,
  opts: Partial<RequestManyOptions>,
): Promise<AsyncIterable<Msg>> {
  const strategy = opts.strategy ?? 'timer';
  const maxWait = opts.maxWait || DEFAULT_MAX_WAIT;
  if (maxWait < 1) throw errors.InvalidArgumentError.format('timeout', 'must be greater than 0');
  const stall = strategy === 'stall' ? opts.stall || DEFAULT_STALL : undefined;
  if (stall !== undefined) {
    checkRequestManyOption('maxWait', maxWait, 1);
    checkRequestManyOption('stall', stall, 1);
  }
  const count = strategy === 'count' && (opts.maxMessages ?? 0) > 0;
  const replies = host
    .requestMany(subject, payload, {
      maxMessages: count ? opts.maxMessages : undefined,
      maxWait: stall === undefined ? maxWait : null,
      headers: toHeaderMap(opts.headers),
    })
    [Symbol.asyncIterator]();
  // Ending the core's iterator ends the request at once, read or not.
  const end = () => void replies.return?.();
  let timer = stall === undefined ? undefined : setTimeout(end, maxWait).unref();
  const rearm =
    stall === undefined
      ? undefined
      : () => {
          clearTimeout(timer);
          timer = setTimeout(end, stall).unref();
        };
  return translate(replies, subject, host, {
    sentinel: strategy === 'sentinel',
    replied: rearm,
    ended: () => clearTimeout(timer),
  });
}

async function* translate(
  replies: AsyncIterator<Message>,
  subject: string,
  host: MsgHost,
  on: { sentinel: boolean; replied?: () => void; ended: () => void },
): AsyncGenerator<Msg> {
  try {
    for (let next = await replies.next(); !next.done; next = await replies.next()) {
      const message = next.value;
      on.replied?.();
      const last = on.sentinel && message.length === 0;
      if (last) await replies.return?.();
      yield new CompatMsg(message, 0, host);
      if (last) return;
    }
  } catch (error) {
    if (error instanceof NatsError && error.kind === 'noResponders') {
      throw new errors.NoRespondersError(subject, { cause: error });
    }
    throw toNatsJsError(error, subject);
  } finally {
    on.ended();
    await replies.return?.();
  }
}
