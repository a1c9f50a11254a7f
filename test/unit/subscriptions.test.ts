// The worker's subscription table: the SUB/UNSUB lines it gives the server, now and on every
// reconnect, and the unsubscribeAfter limit it owns (dropped messages count, as the server's).

import { describe, expect, it } from 'vitest';
import { newSubscription, SubscriptionTable } from '../../src/worker/subscriptions.js';

const text = (line: Uint8Array) => new TextDecoder().decode(line);
const replayed = (table: SubscriptionTable) => table.replay().map(text);

function tableWithEnds(): { table: SubscriptionTable; ended: number[] } {
  const ended: number[] = [];
  return { table: new SubscriptionTable((sid) => ended.push(sid)), ended };
}

/** SUB as the outbound pump handles it: the line, then the table takes it. */
function subscribe(table: SubscriptionTable, sid: number, subject: string, queue?: string) {
  const line = text(table.line({ kind: 'sub', sid, subject, queue }));
  table.subscribe(sid, subject, queue);
  return line;
}

function unsubscribe(table: SubscriptionTable, sid: number, max: number): string {
  const line = text(table.line({ kind: 'unsub', sid, max }));
  table.unsubscribe(sid, max);
  return line;
}

function receive(table: SubscriptionTable, sid: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const sub = table.get(sid);
    if (sub) table.received(sub);
  }
}

describe('SubscriptionTable', () => {
  it('encodes SUB lines from its fields, now and for the replay', () => {
    const { table } = tableWithEnds();
    expect(subscribe(table, 1, 'orders.*', 'workers')).toBe('SUB orders.* workers 1\r\n');
    expect(subscribe(table, 2, 'grüße.ß')).toBe('SUB grüße.ß 2\r\n');
    expect(replayed(table)).toEqual(['SUB orders.* workers 1\r\n', 'SUB grüße.ß 2\r\n']);
  });

  it('tells the server the total limit, and after a reconnect only what is left of it', () => {
    const { table, ended } = tableWithEnds();
    subscribe(table, 7, 'a');
    receive(table, 7, 2);
    expect(unsubscribe(table, 7, 5)).toBe('UNSUB 7 5\r\n');
    receive(table, 7, 1);
    expect(replayed(table)).toEqual(['SUB a 7\r\n', 'UNSUB 7 2\r\n']);
    receive(table, 7, 1);
    expect(ended).toEqual([]);
    receive(table, 7, 1);
    expect(ended).toEqual([7]);
    expect(table.get(7)).toBeUndefined();
    expect(replayed(table)).toEqual([]);
  });

  it('counts a limit given after a reconnect from the new connection on', () => {
    const { table } = tableWithEnds();
    subscribe(table, 3, 'a');
    receive(table, 3, 1000);
    table.replay(); // a new connection: the new server has sent nothing on sid 3 yet
    receive(table, 3, 4);
    // 1004 received, the limit 1010: 6 more, 10 of them on this connection.
    expect(unsubscribe(table, 3, 1010)).toBe('UNSUB 3 10\r\n');
  });

  it('ends at once when the limit has been received already, and unsubscribes now', () => {
    const { table, ended } = tableWithEnds();
    subscribe(table, 4, 'a');
    receive(table, 4, 5);
    expect(unsubscribe(table, 4, 4)).toBe('UNSUB 4\r\n');
    expect(ended).toEqual([4]);
    // The main thread may still unsubscribe it: the line is harmless.
    expect(unsubscribe(table, 4, 0)).toBe('UNSUB 4\r\n');
  });

  it('keeps an unsubscribed subscription (closing) until removed, never replays it', () => {
    const { table } = tableWithEnds();
    subscribe(table, 5, 'a');
    expect(unsubscribe(table, 5, 0)).toBe('UNSUB 5\r\n');
    expect(table.get(5)?.closing).toBe(true);
    expect(replayed(table)).toEqual([]);
    expect(table.get(5)).toBeUndefined();
  });

  it('computes wildcard from the subject and keeps its UTF-8 bytes', () => {
    expect(newSubscription(1, 'a.*', undefined).wildcard).toBe(true);
    expect(newSubscription(1, '>', undefined).wildcard).toBe(true);
    expect(newSubscription(1, 'a.b*.c>', undefined).wildcard).toBe(false);
    const sub = newSubscription(1, 'ü.x', undefined);
    expect(sub.wildcard).toBe(false);
    expect([...sub.ownSubject.bytes]).toEqual([...new TextEncoder().encode('ü.x')]);
  });
});
