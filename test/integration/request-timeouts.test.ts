// Request timeouts share one timer (src/main/deadlines.ts): each request still times out on
// its own, never early, in deadline order, without disturbing the others; none outlives
// close(), and drain() waits for them. No timed assertions: a request may time out late on a
// loaded host, never early, and nothing here depends on how late.

import { type Client, ConnectOptions, connect, type Message, type NatsError } from 'nats-offload';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '../helpers/child.js';
import { kindOf } from '../helpers/errors.js';
import { fileServer } from '../helpers/file-server.js';
import { waitFor } from '../helpers/wait.js';

const ENTRY = new URL('../../dist/src/main/index.js', import.meta.url).href;

const file = fileServer();

async function client(options = new ConnectOptions()): Promise<Client> {
  return file.keep(await options.connect(file.server.url));
}

/** A responder that keeps the requests it gets, to answer them when the test says. */
async function heldResponder(c: Client, subject: string): Promise<Message[]> {
  const held: Message[] = [];
  c.subscribe(subject, { callback: (m) => void held.push(m) });
  await c.flush();
  return held;
}

describe('request timeouts on one shared timer', () => {
  it('a request timing out leaves the others waiting, and they still get their replies', async () => {
    const c = await client(new ConnectOptions().requestTimeout(null));
    const held = await heldResponder(c, 'svc.held');
    const waiting = c.request('svc.held', 'no timeout');
    const later = c.sendRequest('svc.held', { payload: 'long', timeout: 60_000 });
    const started = performance.now();
    const short = await kindOf(c.sendRequest('svc.held', { payload: 'short', timeout: 100 }));
    expect(short).toBe('timedOut');
    expect(performance.now() - started).toBeGreaterThanOrEqual(99); // never early
    await waitFor(() => held.length === 3, 5_000, 'three requests at the responder');
    for (const m of held) if (m.reply) c.publish(m.reply, `re:${m.string()}`);
    expect((await waiting).string()).toBe('re:no timeout');
    expect((await later).string()).toBe('re:long');
  });

  it('many requests with different timeouts each time out on their own, in deadline order', async () => {
    const c = await client();
    const held = await heldResponder(c, 'svc.many');
    // Longest first: each later request brings the earliest deadline forward.
    const timeouts = Array.from({ length: 40 }, (_, i) => 20 + 7 * (39 - i));
    // Each one's deadline as this thread made it: a loaded host may stall the loop long enough
    // that a longer timeout made first has the earlier deadline.
    const expired: number[] = [];
    const timed = timeouts.map((timeout) => {
      const deadline = performance.now() + timeout;
      return c.sendRequest('svc.many', { timeout }).then(
        () => 'replied',
        (e: NatsError) => {
          expired.push(deadline);
          // never before its own timeout, whatever the others' timeouts were
          expect(performance.now()).toBeGreaterThanOrEqual(deadline - 1);
          return e.kind;
        },
      );
    });
    const untimed = Array.from({ length: 5 }, () => c.sendRequest('svc.many', { timeout: null }));
    expect(await Promise.all(timed)).toEqual(timeouts.map(() => 'timedOut'));
    // In deadline order, give or take the millisecond timers round to.
    const outOfOrder = expired.filter((deadline, i) => i > 0 && deadline < expired[i - 1] - 1);
    expect(outOfOrder).toEqual([]);
    // The requests without a timeout are still waiting, and get their replies.
    await waitFor(() => held.length === 45, 5_000, 'every request at the responder');
    for (const m of held) if (m.reply) c.publish(m.reply, 'late');
    expect((await Promise.all(untimed)).map((m) => m.string())).toEqual(untimed.map(() => 'late'));
  });

  it('a shorter timeout after answered requests still fires (the timer re-arms earlier)', async () => {
    const c = await client();
    c.subscribe('svc.echo', { callback: (m) => m.reply && c.publish(m.reply, m.payload) });
    // Answered at once: their deadlines armed the timer far out, then left it.
    for (let i = 0; i < 20; i++) await c.sendRequest('svc.echo', { timeout: 60_000 });
    await heldResponder(c, 'svc.quiet');
    expect(await kindOf(c.sendRequest('svc.quiet', { timeout: 50 }))).toBe('timedOut');
    expect(await kindOf(c.sendRequest('svc.quiet', { timeout: 0 }))).toBe('timedOut');
    // Custom inbox requests share the same timer.
    expect(await kindOf(c.sendRequest('svc.quiet', { timeout: 30, inbox: c.newInbox() }))).toBe(
      'timedOut',
    );
  });

  it('drain() waits for a request that then times out, and completes', async () => {
    const c = await connect(file.server.url);
    await heldResponder(c, 'svc.drain');
    const pending = kindOf(c.sendRequest('svc.drain', { timeout: 200 }));
    const pendingInbox = kindOf(c.sendRequest('svc.drain', { timeout: 250, inbox: c.newInbox() }));
    await c.flush();
    const drained = c.drain();
    expect(await pending).toBe('timedOut');
    expect(await pendingInbox).toBe('timedOut');
    await drained;
    expect(await c.closed()).toBeUndefined();
  });

  it('drain() lets a pending requestMany gather its replies before it closes', async () => {
    const c = await connect(file.server.url);
    const responder = await client();
    const held = await heldResponder(responder, 'svc.many');
    const gathered: string[] = [];
    const gathering = (async () => {
      const replies = c.requestMany('svc.many', 'q', { maxMessages: 2, maxWait: 5_000 });
      for await (const m of replies) gathered.push(m.string());
    })();
    await c.flush();
    await waitFor(() => held.length === 1, 5_000, 'the request');
    const drained = c.drain();
    held[0].respond('one');
    held[0].respond('two');
    await gathering;
    await drained;
    expect(gathered).toEqual(['one', 'two']);
  });

  it('drain() waits for a requestMany within its maxWait, past the bound of plain requests', async () => {
    // drain()'s wait is max(requestTimeout, 2 × connectionTimeout, the latest deadline): a
    // requestMany's maxWait is one (it was cut at 1 s here, its reply at 1.5 s lost, 'closed').
    const c = await new ConnectOptions()
      .connectionTimeout(300)
      .requestTimeout(500)
      .connect(file.server.url);
    const responder = await client();
    const held = await heldResponder(responder, 'svc.slowmany');
    const gathered: string[] = [];
    const gathering = (async () => {
      for await (const m of c.requestMany('svc.slowmany', 'q', { maxWait: 4_000 })) {
        gathered.push(m.string());
      }
    })();
    await c.flush();
    await waitFor(() => held.length === 1, 5_000, 'the request');
    const drained = c.drain();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    held[0].respond('late');
    await drained;
    await gathering;
    expect(gathered).toEqual(['late']);
    expect(await c.closed()).toBeUndefined();
  });

  it('a request pending at close() rejects closed, not timedOut later; so does a requestMany', async () => {
    const c = await connect(file.server.url);
    await heldResponder(c, 'svc.close');
    const kinds: (string | undefined)[] = [];
    const pending = [50, 100, 60_000].map((timeout) =>
      kindOf(c.sendRequest('svc.close', { timeout })).then((k) => kinds.push(k)),
    );
    // A requestMany too: its iterator throws 'closed' (it ended normally, as if no one answered).
    const many = c.requestMany('svc.close', 'q', { maxWait: 60_000 })[Symbol.asyncIterator]();
    pending.push(kindOf(many.next()).then((k) => kinds.push(k)));
    await c.flush();
    await c.close();
    await Promise.all(pending);
    expect(kinds).toEqual(['closed', 'closed', 'closed', 'closed']);
  });

  it('a process whose client closed with a long request timeout pending exits at once', async () => {
    // The shared timer is unref'd, so the process would exit even if it still held the
    // request: whether the closed client can be collected shows that the timer let it go.
    const result = await runNodeScript(
      `
      import { ConnectOptions } from ${JSON.stringify(ENTRY)};
      let client = await new ConnectOptions().requestTimeout(600000).connect(${JSON.stringify(file.server.url)});
      client.subscribe('exit.quiet', { callback: () => {} });
      await client.flush();
      const pending = client.request('exit.quiet').catch((e) => e.kind);
      await client.close();
      const kind = await pending;
      const ref = new WeakRef(client);
      client = undefined;
      for (let i = 0; i < 50 && ref.deref() !== undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        gc();
      }
      console.log(kind, ref.deref() === undefined ? 'collected' : 'kept');
      `,
      { timeoutMs: 20_000, asFile: true, nodeFlags: ['--expose-gc'] },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('closed collected');
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
  });
});
