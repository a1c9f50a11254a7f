/**
 * The server as nats.js describes it: INFO in the server's snake_case (`api_lvl`,
 * `max_payload`, `cluster`, …, as KV and Object Store read `nc.info`) and the `Features` its
 * version enables (nats.js keeps them on its protocol handler; JetStream reads
 * `nc.features.get(Feature.X)`).
 */
import type { ServerInfo as NatsJsServerInfo } from '@nats-io/nats-core';
import { Features, parseSemVer, type SemVer } from '@nats-io/nats-core/internal';
import type { ServerInfo } from '../shared/server-info.js';

/** camelCase names that are not the snake_case one turned around. */
const RENAMED: Record<string, string> = { lameDuckMode: 'ldm' };

export class ServerView {
  private lastInfo: ServerInfo | undefined;
  private snake: NatsJsServerInfo | undefined;
  private lastVersion: string | undefined;
  private featureSet: Features | undefined;

  constructor(private readonly read: () => ServerInfo) {}

  info(): NatsJsServerInfo {
    const info = this.read();
    if (info !== this.lastInfo || this.snake === undefined) {
      this.lastInfo = info;
      this.snake = toSnakeCase(info);
    }
    return this.snake;
  }

  /** A version that does not parse (any INFO is possible) reads as 0.0.0: no features. */
  version(): SemVer {
    try {
      return parseSemVer(this.read().version);
    } catch {
      return { major: 0, minor: 0, micro: 0 };
    }
  }

  features(): Features {
    const version = this.read().version;
    if (this.featureSet === undefined || version !== this.lastVersion) {
      this.lastVersion = version;
      this.featureSet = new Features(this.version());
    }
    return this.featureSet;
  }
}

function toSnakeCase(info: ServerInfo): NatsJsServerInfo {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(info)) {
    if (value === undefined) continue;
    out[RENAMED[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  return out as unknown as NatsJsServerInfo;
}
