/**
 * Messages and headers between nats-offload and nats.js: a received {@link Message} as a
 * nats-core `Msg` (with nats-core headers, also for a status-only message), and nats-core
 * headers given to a publish as a {@link HeaderMap}.
 */
import type { Msg, MsgHdrs, Payload, PublishOptions, ReviverFn } from '@nats-io/nats-core';
import { MsgHdrsImpl } from '@nats-io/nats-core/internal';
import type { Message } from '../main/message.js';
import { NatsError } from '../shared/errors.js';
import { HeaderMap, setStatusLine } from '../shared/protocol/headers.js';

/** What a compat message needs of its connection: replies, and what `JsMsg.ackAck()` reads. */
export interface MsgHost {
  /** `msg.respond()`: a publish to `reply` that a closed connection ignores (see connection.ts). */
  respond(reply: string, payload?: Payload, options?: PublishOptions): void;
  /** nats.js's protocol handler as `ackAck()` uses it (see ack-requests.ts). */
  readonly publisher: unknown;
}

/** A received message as nats.js hands it to a subscription callback. */
export class CompatMsg implements Msg {
  /** `headers`, made at its first read (null: not yet), as nats.js decodes them. */
  private natsHeaders: MsgHdrs | undefined | null = null;
  /** `data`, made at its first read. */
  private payloadBuffer: Buffer | undefined;

  constructor(
    private readonly message: Message,
    readonly sid: number,
    private readonly host: MsgHost,
  ) {}

  get headers(): MsgHdrs | undefined {
    if (this.natsHeaders === null) this.natsHeaders = toNatsHeaders(this.message);
    return this.natsHeaders;
  }

  get subject(): string {
    return this.message.subject;
  }

  /** As nats.js's: an empty string when the message has no reply subject. */
  get reply(): string {
    return this.message.reply ?? '';
  }

  /**
   * As nats.js's on Node: a `Buffer` (so `data.toString()` decodes it), here a view of the
   * message's own payload, which stays the message's (API.md "Message").
   */
  get data(): Uint8Array {
    const payload = this.message.payload;
    this.payloadBuffer ??= Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return this.payloadBuffer;
  }

  /** nats.js's protocol handler: `JsMsg.ackAck()` reaches the connection through it. */
  get publisher(): unknown {
    return this.host.publisher;
  }

  respond(payload?: Payload, opts?: PublishOptions): boolean {
    if (!this.message.reply) return false;
    this.host.respond(this.message.reply, payload, opts);
    return true;
  }

  /** As nats.js's: a payload that is not JSON throws JSON.parse's own SyntaxError. */
  json<T>(reviver?: ReviverFn): T {
    return JSON.parse(this.message.string(), reviver) as T;
  }

  string(): string {
    return this.message.string();
  }

  /** Bytes of the message as nats.js counts them (payload and header values). */
  size(): number {
    let size = this.message.length + this.message.subject.length;
    if (this.message.reply) size += this.message.reply.length;
    for (const [name, value] of this.message.headers ?? []) size += name.length + value.length;
    return size;
  }
}

/**
 * nats-core headers of a received message: its status code and description (JetStream tells
 * heartbeats, 404, 408, 409 and 503 by them), then every header line. Built directly, not with
 * `headers(code, description)`, which refuses a status without a description.
 */
export function toNatsHeaders(message: Message): MsgHdrs | undefined {
  if (message.headers === undefined && message.status === undefined) return undefined;
  const headers = new MsgHdrsImpl(message.status ?? 0, message.description ?? '');
  for (const [name, value] of message.headers ?? []) {
    try {
      headers.append(name, value);
    } catch {
      // A name nats-core refuses (not ASCII 33..126, e.g. "X-Naïve"): the line is left out, as
      // the core leaves out lines that do not parse; the message is delivered (API.md).
    }
  }
  return headers;
}

/**
 * Headers given to a publish: nats-core's (or any copy's, e.g. the one @nats-io/services pins)
 * iterate as `[name, values[]]`, so they are read that way, never tested with `instanceof`.
 * Headers without a value or a status code are none, as nats.js sends them (no header block):
 * JetStream's publish always passes a headers object. A status code goes on the block's first
 * line (`NATS/1.0 503 No Responders`), as nats.js sends it (a responder faking a status).
 */
export function toHeaderMap(headers: MsgHdrs | undefined): HeaderMap | undefined {
  if (headers === undefined || headers === null) return undefined;
  const map = new HeaderMap();
  let values = 0;
  try {
    for (const [name, all] of headers) {
      for (const value of all) {
        map.append(name, value);
        values++;
      }
    }
  } catch (cause) {
    if (cause instanceof NatsError) throw cause;
    throw new NatsError('invalidArgument', 'headers must iterate as [name, values[]]', { cause });
  }
  if (headers.code > 0) setStatusLine(map, headers.code, headers.description);
  return values > 0 || headers.code > 0 ? map : undefined;
}
