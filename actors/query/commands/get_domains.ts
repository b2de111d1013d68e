// get_domains: every domain with its classes (the implicit default class included) and access options.
import type { QueryContext } from "../context.ts";
import type { ClassInfo, Parsed, Reply } from "../../../protocol/schemas.ts";
import { DEFAULT_CLASS, defaultClassRow } from "../../runtime/domain/classes.ts";
import { domainOptions } from "../../runtime/domain/domains.ts";

export async function getDomains(ctx: QueryContext, _a: Parsed<"get_domains">): Promise<Reply<"get_domains">> {
  const [domains, classes] = await Promise.all([ctx.store.domains.find().sort({ _id: 1 }).toArray(), ctx.store.classes.find().toArray()]);
  return {
    domains: domains.map((d) => {
      const own = classes.filter((c) => c.domain === d._id);
      const list: ClassInfo[] = own.map((c) => ({
        class: c.class, mindevcount: c.mindevcount, replpolicy: c.replpolicy, hashtype: c.hashtype,
        ...((c.durable_copies ?? 1) > 1 ? { durable_copies: c.durable_copies } : {}),
        ...(c.async_copies ? { async_copies: true } : {}),
      }));
      if (!own.some((c) => c.class === DEFAULT_CLASS)) {
        const { class: name, mindevcount, replpolicy, hashtype } = defaultClassRow(d._id);
        list.unshift({ class: name, mindevcount, replpolicy, hashtype });
      }
      return { domain: d._id, classes: list, ...domainOptions(d) };
    }),
  };
}
