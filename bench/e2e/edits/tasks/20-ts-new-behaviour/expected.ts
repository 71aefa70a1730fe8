// response_cache.ts - LRU cache for deterministic completion responses.
//
// Requests with temperature 0 and a fixed seed always produce the same output,
// so the gateway can answer repeats from memory. Entries expire after a TTL
// and the cache is bounded by total payload bytes, not entry count.

import { createHash } from 'node:crypto';

export interface CacheOptions {
  maxBytes: number;
  ttlMs: number;
  now?: () => number;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
  expirations: number;
}

interface Node<V> {
  key: string;
  value: V;
  bytes: number;
  expiresAt: number;
  prev: Node<V> | null;
  next: Node<V> | null;
}

export interface CacheableRequest {
  model: string;
  prompt: string;
  max_tokens: number;
  temperature: number;
  seed?: number;
  stop?: string[];
}

// Only requests whose output is fully determined by their inputs are cached.
export function isCacheable(req: CacheableRequest): boolean {
  return req.temperature === 0 || req.seed !== undefined;
}

export function cacheKey(req: CacheableRequest): string {
  const canonical = JSON.stringify([
    req.model,
    req.prompt,
    req.max_tokens,
    req.temperature,
    req.seed ?? null,
    [...(req.stop ?? [])].sort(),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export class LruCache<V> {
  private readonly map = new Map<string, Node<V>>();
  private head: Node<V> | null = null; // most recently used
  private tail: Node<V> | null = null; // least recently used
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;
  private readonly now: () => number;

  constructor(
    private readonly opts: CacheOptions,
    private readonly sizeOf: (value: V) => number,
  ) {
    if (opts.maxBytes <= 0) {
      throw new RangeError('maxBytes must be positive');
    }
    if (opts.ttlMs <= 0) {
      throw new RangeError('ttlMs must be positive');
    }
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  has(key: string): boolean {
    const node = this.map.get(key);
    return node !== undefined && node.expiresAt > this.now();
  }

  // Returns the value without touching recency or hit/miss counters.
  peek(key: string): V | undefined {
    const node = this.map.get(key);
    if (!node || node.expiresAt <= this.now()) {
      return undefined;
    }
    return node.value;
  }

  get(key: string): V | undefined {
    const node = this.map.get(key);
    if (!node) {
      this.misses++;
      return undefined;
    }
    if (node.expiresAt <= this.now()) {
      this.removeNode(node);
      this.expirations++;
      this.misses++;
      return undefined;
    }
    this.moveToFront(node);
    this.hits++;
    return node.value;
  }

  set(key: string, value: V): boolean {
    const bytes = this.sizeOf(value);
    if (bytes > this.opts.maxBytes) {
      return false;
    }
    const existing = this.map.get(key);
    if (existing) {
      this.removeNode(existing);
    }
    const node: Node<V> = {
      key,
      value,
      bytes,
      expiresAt: this.now() + this.opts.ttlMs,
      prev: null,
      next: null,
    };
    this.map.set(key, node);
    this.pushFront(node);
    this.bytes += bytes;
    while (this.bytes > this.opts.maxBytes && this.tail) {
      this.removeNode(this.tail);
      this.evictions++;
    }
    return true;
  }

  delete(key: string): boolean {
    const node = this.map.get(key);
    if (!node) {
      return false;
    }
    this.removeNode(node);
    return true;
  }

  clear(): void {
    this.map.clear();
    this.head = null;
    this.tail = null;
    this.bytes = 0;
  }

  // Drops every expired entry; returns how many were removed.
  purgeExpired(): number {
    const now = this.now();
    let removed = 0;
    let node = this.tail;
    while (node) {
      const prev = node.prev;
      if (node.expiresAt <= now) {
        this.removeNode(node);
        removed++;
      }
      node = prev;
    }
    this.expirations += removed;
    return removed;
  }

  stats(): CacheStats {
    return {
      entries: this.map.size,
      bytes: this.bytes,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      expirations: this.expirations,
    };
  }

  // Keys from most to least recently used.
  keys(): string[] {
    const out: string[] = [];
    for (let n = this.head; n; n = n.next) {
      out.push(n.key);
    }
    return out;
  }

  private pushFront(node: Node<V>): void {
    node.prev = null;
    node.next = this.head;
    if (this.head) {
      this.head.prev = node;
    }
    this.head = node;
    if (!this.tail) {
      this.tail = node;
    }
  }

  private unlink(node: Node<V>): void {
    if (node.prev) {
      node.prev.next = node.next;
    } else {
      this.head = node.next;
    }
    if (node.next) {
      node.next.prev = node.prev;
    } else {
      this.tail = node.prev;
    }
    node.prev = null;
    node.next = null;
  }

  private moveToFront(node: Node<V>): void {
    if (this.head === node) {
      return;
    }
    this.unlink(node);
    this.pushFront(node);
  }

  private removeNode(node: Node<V>): void {
    this.unlink(node);
    this.map.delete(node.key);
    this.bytes -= node.bytes;
  }
}

export interface CachedCompletion {
  text: string;
  finishReason: string;
  completionTokens: number;
}

export function completionSize(c: CachedCompletion): number {
  // Rough UTF-16 payload size plus fixed per-entry overhead.
  return c.text.length * 2 + c.finishReason.length * 2 + 64;
}

export function createCompletionCache(
  maxBytes = 64 * 1024 * 1024,
  ttlMs = 10 * 60 * 1000,
): LruCache<CachedCompletion> {
  return new LruCache<CachedCompletion>({ maxBytes, ttlMs }, completionSize);
}

export function formatStats(s: CacheStats): string {
  const lookups = s.hits + s.misses;
  const hitRate = lookups === 0 ? 0 : (100 * s.hits) / lookups;
  return (
    `entries=${s.entries} bytes=${s.bytes} hit_rate=${hitRate.toFixed(1)}% ` +
    `evictions=${s.evictions} expirations=${s.expirations}`
  );
}
