/**
 * What `JsMsg.ackAck()` reaches through `msg.publisher` (nats.js's protocol handler):
 * `options.noAsyncTraces`, `muxSubscriptions.baseInbox` / `cancel(r)`, `request(r)` and
 * `publish(reply, ACK, { reply })`. `r` is nats-core's `RequestOne`: it is answered through
 * `r.resolver(err, msg)`, keyed by `r.token` under the base inbox. One wildcard subscription
 * on this client, opened at the first ackAck, carries every answer.
 */

import { errors, type Msg, type Payload, type PublishOptions } from '@nats-io/nats-core';
import type { Message } from '../main/message.js';
import type { Subscriber } from '../main/subscriber.js';
import { NO_RESPONDERS } from '../shared/protocol/headers.js';
import type { MsgHost } from './msg.js';
import { CompatMsg } from './msg.js';

/** The part of nats-core's `RequestOne` this uses. */
interface PendingRequest {
  token: string;
  requestSubject: string;
  resolver(err: Error | null, msg: Msg): void;
}

export interface AckRequestsHost {
  newInbox(): string;
  subscribe(subject: string, callback: (message: Message) => void): Subscriber;
  publish(subject: string, payload?: Payload, options?: PublishOptions): void;
}

export class AckRequests {
  /** ackAck traces nothing: its timeout rejects with a plain `TimeoutError`. */
  readonly options = { noAsyncTraces: true };
  readonly muxSubscriptions: { baseInbox: string; cancel(r: PendingRequest): void };
  private readonly pending = new Map<string, PendingRequest>();
  private sub: Subscriber | undefined;

  constructor(
    private readonly host: AckRequestsHost,
    private readonly msgHost: MsgHost,
  ) {
    const baseInbox = `${host.newInbox()}.`;
    this.muxSubscriptions = { baseInbox, cancel: (r) => this.pending.delete(r.token) };
  }

  request(r: PendingRequest): void {
    if (this.sub === undefined || this.sub.isClosed) {
      const base = this.muxSubscriptions.baseInbox;
      this.sub = this.host.subscribe(`${base}*`, (message) => this.answer(message, base));
    }
    this.pending.set(r.token, r);
  }

  publish(subject: string, payload?: Payload, options?: PublishOptions): void {
    this.host.publish(subject, payload, options);
  }

  private answer(message: Message, base: string): void {
    const r = this.pending.get(message.subject.slice(base.length));
    if (r === undefined) return;
    const msg = new CompatMsg(message, this.sub?.sid ?? 0, this.msgHost);
    const noResponders = message.status === NO_RESPONDERS && message.payload.length === 0;
    r.resolver(noResponders ? new errors.NoRespondersError(r.requestSubject) : null, msg);
  }
}
