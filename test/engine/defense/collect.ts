/** Test helper: drains an engine generator, keeping its events and its return value. */
import type { DefenseEvent } from '../../../src/engine/defense/events';

export async function collect<R>(gen: AsyncGenerator<DefenseEvent, R, void>): Promise<{ events: DefenseEvent[]; result: R }> {
  const events: DefenseEvent[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { events, result: r.value };
    events.push(r.value);
  }
}
