/**
 * What `JsMsg.ackAck()` reaches through `msg.publisher` (nats.js's protocol handler):
 * `options.noAsyncTraces`, `muxSubscriptions.baseInbox` / `cancel(r)`, `request(r)` and
 * `publish(reply, ACK, { reply: baseInbox + r.token })`. `r` is nats-core's `RequestOne`,
 * answered through `r.resolver(err, msg)`. The ACK goes out as a request of the client's own
 * multiplexer (`Client.sendRequest`): `baseInbox` only marks which publish is whose request.
 */

import { errors, type Msg, type Payload, type PublishOptions } from '@nats-io/nats-core';
import type { Message } from '../main/message.js';
import type { RequestOptions } from '../main/request-options.js';
import { NatsError } from '../shared/errors.js';
import { toNatsJsError } from './errors.js';
import { CompatMsg, type MsgHost } from './msg.js';

/** The part of nats-core's `RequestOne` this uses. */
interface PendingRequest {
  token: string;
  requestSubject: string;
  resolver(err: Error | null, msg: Msg): void;
  cancel(err?: Error): void;
}

/** The longest an ackAck's multiplexer entry waits (nats.js's JetStream default is 5 s). */
const ACK_ENTRY_MAX_MS = 60_000;

export interface AckRequestsHost {
  newInbox(): string;
  publish(subject: string, payload?: Payload, options?: PublishOptions): void;
  /** How the replies' own `respond()` publishes (see MsgHost). */
  respond(reply: string, payload?: Payload, options?: PublishOptions): void;
  sendRequest(subject: string, request: RequestOptions): Promise<Message>;
  /** The client's request timeout: how long the multiplexer waits for an answer. */
  requestTimeout(): number | null;
}

export class AckRequests {
  /** ackAck traces nothing: its timeout rejects with a plain `TimeoutError`. */
  readonly options = { noAsyncTraces: true };
  readonly muxSubscriptions: { baseInbox: string; cancel(r: PendingRequest): void };
  /** Requests announced by `request(r)`, until their publish. */
  private readonly announced = new Map<string, PendingRequest>();
  /** What the replies handed to `r.resolver` reach back through. */
  private readonly msgHost: MsgHost;

  constructor(private readonly host: AckRequestsHost) {
    this.msgHost = { respond: (reply, p, o) => host.respond(reply, p, o), publisher: this };
    const baseInbox = `${host.newInbox()}.`;
    this.muxSubscriptions = { baseInbox, cancel: (r) => this.announced.delete(r.token) };
  }

  request(r: PendingRequest): void {
    this.announced.set(r.token, r);
  }

  publish(subject: string, payload?: Payload, options?: PublishOptions): void {
    const reply = options?.reply ?? '';
    const base = this.muxSubscriptions.baseInbox;
    const r = reply.startsWith(base) ? this.announced.get(reply.slice(base.length)) : undefined;
    if (r === undefined) {
      this.host.publish(subject, payload, options);
      return;
    }
    this.announced.delete(r.token);
    // ackAck's own timer ends its wait; the multiplexer's entry ends with the client's request
    // timeout (or the reply, or close), and never outlives ACK_ENTRY_MAX_MS: an unanswered
    // ack under requestTimeout(null) must not keep its entry until close.
    const timeout = Math.min(this.host.requestTimeout() ?? ACK_ENTRY_MAX_MS, ACK_ENTRY_MAX_MS);
    const request: RequestOptions = { payload, timeout };
    this.host.sendRequest(subject, request).then(
      (message) => r.resolver(null, new CompatMsg(message, 0, this.msgHost)),
      (error: unknown) => this.failed(r, error),
    );
  }

  private failed(r: PendingRequest, error: unknown): void {
    if (error instanceof NatsError && error.kind === 'noResponders') {
      r.resolver(new errors.NoRespondersError(r.requestSubject, { cause: error }), {} as Msg);
    } else {
      r.cancel(toNatsJsError(error, r.requestSubject) as Error);
    }
  }
}
