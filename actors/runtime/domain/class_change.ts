// What a class rule would do to a file's copies where they are now: the replicator's own loop
// (decide → copy or drop, until satisfied) run on paper against the device view. update_class
// dry_run=1 tallies it over a class's files; explain uses it for "what would change it".
import type { ClassChangeDryRun } from "../../../protocol/schemas.ts";
import type { DeviceView } from "../devices.ts";
import type { ClassRule } from "./classes.ts";
import { decide, placement } from "./policy.ts";

export interface Simulated {
  /** copies the replicator would make, and drop as surplus */
  added: number; dropped: number;
  /** the rule holds at the end (false: it would wait, or nothing could take a copy) */
  met: boolean;
}

/**
 * The replicator's answers, one round at a time, for copies on `devids`. Free space is checked for
 * `size` bytes; the destination is the device the weighted draw favours most (the count of copies
 * does not depend on which device of the best tier gets one).
 */
export function simulate(view: DeviceView, rule: ClassRule, devids: readonly number[], size = 0): Simulated {
  let on = [...devids];
  let added = 0;
  let dropped = 0;
  for (let round = 0; round < rule.min + 4; round++) {
    const answer = decide({ policy: rule.policy, min: rule.min, ...placement(view, on, size) });
    if (answer.kind === "satisfied") return { added, dropped, met: true };
    if (answer.kind === "too_many") {
      on = on.filter((d) => d !== answer.devid);
      dropped++;
      continue;
    }
    if (answer.kind !== "copy") break;
    const dest = answer.devids.reduce((best, d) => (view.drawWeight(d) > view.drawWeight(best) ? d : best));
    on.push(dest);
    added++;
  }
  return { added, dropped, met: false };
}

type Counts = Omit<ClassChangeDryRun, "from_mindevcount" | "from_replpolicy" | "replpolicy" | "complete" | "elapsed_ms">;

/**
 * Files grouped by where their copies are, judged by the current rule and by the new one: a class
 * has few distinct placements (combinations of devices) however many files it has, so each is
 * simulated once.
 */
export class ClassChangeTally {
  readonly counts: Counts = {
    files: 0, bytes: 0, gain_files: 0, gain_copies: 0, gain_bytes: 0, lose_files: 0, lose_copies: 0, lose_bytes: 0,
    move_files: 0, move_copies: 0, move_bytes: 0, unchanged_files: 0, below_now_files: 0, unmet_files: 0,
  };
  constructor(private readonly view: DeviceView, private readonly from: ClassRule, private readonly to: ClassRule) {}

  /** `files` files of `bytes` bytes in all whose copies are on `devids`. */
  add(devids: readonly number[], files: number, bytes: number): void {
    const c = this.counts;
    const now = simulate(this.view, this.from, devids);
    const next = simulate(this.view, this.to, devids);
    c.files += files;
    c.bytes += bytes;
    if (!now.met || now.added > 0) c.below_now_files += files;
    if (!next.met) c.unmet_files += files;
    // against what the current rule leads to, so pending replication is not blamed on the change
    const diff = (next.added - next.dropped) - (now.added - now.dropped);
    if (diff > 0) {
      c.gain_files += files; c.gain_copies += diff * files; c.gain_bytes += diff * bytes;
    } else if (diff < 0) {
      c.lose_files += files; c.lose_copies += -diff * files; c.lose_bytes += -diff * bytes;
    } else if (next.added !== now.added || next.dropped !== now.dropped) {
      const moved = Math.max(next.added, next.dropped);
      c.move_files += files; c.move_copies += moved * files; c.move_bytes += moved * bytes;
    } else {
      c.unchanged_files += files;
    }
  }
}
