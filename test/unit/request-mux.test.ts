import { describe, expect, it } from 'vitest';
import type { MuxHost } from '../../src/main/request-mux.js';
import { RequestMux } from '../../src/main/request-mux.js';
import type { Subscriber } from '../../src/main/subscriber.js';
import { NatsError } from '../../src/shared/errors.js';

/** A host that records what the multiplexer asks of it, in order. */
function recordingHost(): { host: MuxHost; calls: string[] } {
  const calls: string[] = [];
  const host: MuxHost = {
    subscribe: (subject) => {
      calls.push(`sub ${subject}`);
      return {} as Subscriber;
    },
    publishRequest: (subject) => void calls.push(`pub ${subject}`),
    publishNow: () => void calls.push('publishNow'),
  };
  return { host, calls };
}

describe('RequestMux publishing', () => {
  it('makes a lone request visible to the worker before send() returns', () => {
    const { host, calls } = recordingHost();
    const mux = new RequestMux(host, '_INBOX');
    const pending = mux.send('svc.a', {}, null);
    expect(calls.slice(1)).toEqual(['pub svc.a', 'publishNow']);
    mux.close(new NatsError('closed', 'test over'));
    return expect(pending).rejects.toThrow('test over');
  });

  it('leaves requests sent while others wait to the batched publish', () => {
    const { host, calls } = recordingHost();
    const mux = new RequestMux(host, '_INBOX');
    const pending = Array.from({ length: 100 }, () => mux.send('svc.b', {}, null));
    expect(calls.filter((c) => c === 'publishNow')).toHaveLength(1);
    expect(calls.filter((c) => c === 'pub svc.b')).toHaveLength(100);
    mux.close(new NatsError('closed', 'test over'));
    return Promise.all(pending.map((p) => expect(p).rejects.toThrow('test over')));
  });
});
