// nats.js 3.3.1 (pinned) answers every request twice: its resolver settles the request's promise,
// then calls cancel(), which builds a RequestError("cancelled") (an Error and its stack capture) to
// reject the promise already settled. That wasted Error is ~2 % of the CPU of a process that makes
// many requests (the legacy tracker, the query actor). A request settled by its resolver (answered,
// no responders, or failed when the connection closes) is released here without building the error;
// a request cancelled with an error of its own (a timeout, a failed publish) goes the original way.
import { RequestOne } from "@nats-io/nats-core/internal";

const settled = Symbol("mogile.settled");
type Req = { timer?: { cancel(): void }; mux: { cancel(r: unknown): void }; [settled]?: boolean };
const proto = RequestOne.prototype as unknown as {
  resolver(this: Req, err: Error | null, msg: unknown): void;
  cancel(this: Req, err?: Error): void;
};
if (typeof proto.resolver !== "function" || typeof proto.cancel !== "function") {
  throw new Error("@nats-io/nats-core's RequestOne has no resolver/cancel: check protocol/nats-patch.ts against the installed version");
}
const resolver = proto.resolver;
const cancel = proto.cancel;
proto.resolver = function (err, msg) {
  this[settled] = true;
  resolver.call(this, err, msg);
};
proto.cancel = function (err) {
  if (err === undefined && this[settled]) {
    this.timer?.cancel();
    this.mux.cancel(this);
    return;
  }
  cancel.call(this, err);
};
