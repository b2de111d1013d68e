// `mogile class modify … --dry-run`: the update_class dry run's counts as a table.
import type { ClassChangeDryRun } from "../../protocol/schemas.ts";
import { bytes, printTable } from "./context.ts";

export function printDryRun(domain: string, cls: string, mindevcount: number, r: ClassChangeDryRun): void {
  console.log(`class ${cls} in ${domain}: mindevcount ${r.from_mindevcount} → ${mindevcount}, replpolicy ${r.from_replpolicy} → ${r.replpolicy} (dry run: nothing changed)`);
  console.log(`${r.files} files, ${bytes(r.bytes)}${r.complete ? "" : " looked at before the scan's limit: the counts are for those files only"}`);
  printTable(["effect", "files", "copies", "bytes"], [
    ["gain copies", r.gain_files, r.gain_copies, bytes(r.gain_bytes)],
    ["lose copies", r.lose_files, r.lose_copies, bytes(r.lose_bytes)],
    ["copy moved", r.move_files, r.move_copies, bytes(r.move_bytes)],
    ["unchanged", r.unchanged_files, null, null],
  ]);
  if (r.below_now_files) console.log(`${r.below_now_files} files are below the current rule already (replication pending); not counted as gains`);
  if (r.unmet_files) console.log(`${r.unmet_files} files could not reach the new rule with the devices there are now`);
}
