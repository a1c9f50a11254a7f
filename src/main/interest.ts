/**
 * The subjects this client receives: which of its own publishes come back to it. The worker
 * gates only those on how fast this thread reads deliveries (flow-control.ts); a publish to a
 * subject no subscription of this client matches goes at socket speed.
 *
 * Asked once per new subject: Outgoing keeps the answer with its last subject (most
 * publishers repeat one) and forgets it when a subscription comes or goes ({@link onChange}).
 */
import { subjectMatches } from '../shared/protocol/subject.js';

/** A wildcard subscription subject, with its text before the first wildcard for a quick reject. */
interface Pattern {
  subject: string;
  prefix: string;
  count: number;
}

export class SubjectInterest {
  /** Subscriptions without wildcards, by subject, with how many of them there are. */
  private readonly exact = new Map<string, number>();
  private readonly patterns = new Map<string, Pattern>();
  /** Told whenever a subscription comes or goes. */
  private readonly listeners: (() => void)[] = [];

  /** `echo`: false with `noEcho()`, when the server never sends a client its own messages. */
  constructor(private readonly echo: boolean) {}

  /** `listener` runs whenever a subscription comes or goes: answers given before may be stale. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  add(subject: string): void {
    this.changed();
    if (!isWildcard(subject)) {
      this.exact.set(subject, (this.exact.get(subject) ?? 0) + 1);
      return;
    }
    const pattern = this.patterns.get(subject);
    if (pattern) pattern.count++;
    else this.patterns.set(subject, { subject, prefix: literalPrefix(subject), count: 1 });
  }

  remove(subject: string): void {
    this.changed();
    const count = this.exact.get(subject);
    if (count !== undefined) {
      if (count > 1) this.exact.set(subject, count - 1);
      else this.exact.delete(subject);
      return;
    }
    const pattern = this.patterns.get(subject);
    if (pattern && --pattern.count === 0) this.patterns.delete(subject);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Whether a message to `subject` comes back to this client. */
  receives(subject: string): boolean {
    if (!this.echo) return false;
    if (this.exact.has(subject)) return true;
    for (const p of this.patterns.values()) {
      if (subject.startsWith(p.prefix) && subjectMatches(p.subject, subject)) return true;
    }
    return false;
  }
}

function isWildcard(subject: string): boolean {
  return subject.split('.').some((token) => token === '*' || token === '>');
}

/** The tokens before the first wildcard, with their dots: every matching subject starts so. */
function literalPrefix(subject: string): string {
  const tokens = subject.split('.');
  const first = tokens.findIndex((token) => token === '*' || token === '>');
  return tokens
    .slice(0, first)
    .map((token) => `${token}.`)
    .join('');
}
