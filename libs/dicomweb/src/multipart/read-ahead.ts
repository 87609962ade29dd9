import type { Readable } from 'node:stream';

/**
 * The bodies of `items` in order, each opened up to `depth - 1` items ahead of the one being
 * consumed: from the blob store every open is a request, whose latency would otherwise pass
 * between every two parts of a multipart response. `first` is the first item's body when the
 * caller opened it already (to answer an error before the headers go out). When the consumer stops
 * early (the client went away, an open failed), the bodies opened ahead are destroyed.
 */
export async function* readAhead<T>(items: readonly T[], open: (item: T) => Promise<Readable>, depth: number, first?: Readable): AsyncGenerator<{ item: T; body: Readable }> {
  const opening: Promise<Readable>[] = [];
  let next = 0;
  if (first && items.length > 0) {
    opening.push(Promise.resolve(first));
    next = 1;
  }
  try {
    for (let i = 0; i < items.length; i++) {
      while (next < items.length && opening.length < Math.max(1, depth)) {
        const opened = open(items[next++]!);
        opened.catch(() => undefined); // awaited in its turn below; not an unhandled rejection meanwhile
        opening.push(opened);
      }
      yield { item: items[i]!, body: await opening.shift()! };
    }
  } finally {
    for (const opened of opening) void opened.then((stream) => stream.destroy(), () => undefined);
  }
}
