// The request/reply protocol between a view and its host, over anywidget's
// custom messages. The host is the kernel (attnwidget/widget/protocol.py, the
// Python half, which both widgets answer through) or a kernel-less widget model in
// an exported page (host/static_widget_model.ts, explorer/host/).
//
//   view -> host  {kind: "attnwidget:request", id, what, ...params}
//   host -> view  {kind: "attnwidget:reply", id, ...body}   binary parts as buffers
//
// A reply with `error` is a refusal: the request rejects with the host's text.
// Every view of one widget model hears every reply, so ids are unique across
// the page, not per channel. Cancelling or timing out forgets a request here
// only: the wire has no cancel message, and a late reply is dropped.

import type { WidgetModel } from "../host/widget_model";

export const REQUEST = "attnwidget:request";
export const REPLY = "attnwidget:reply";

export interface RequestMessage {
  kind: typeof REQUEST;
  id: number;
  what: string;
  [param: string]: unknown;
}

export interface ReplyMessage {
  kind: typeof REPLY;
  id: number;
  error?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the body's shape depends on `what`
  [field: string]: any;
}

/** A reply as the asking side gets it: the message and its binary parts, in order. */
export interface Reply {
  content: ReplyMessage;
  buffers: DataView[];
}

export interface RequestOptions {
  /** Reject with RequestTimeout when no reply came within this many ms (default: wait for it). */
  timeoutMs?: number;
  /** Abort to stop waiting (a stale tile, a view moved on): rejects with RequestCancelled. */
  signal?: AbortSignal;
}

/** The host answered with `error`: the message is its text, to show as it is. */
export class RequestRefused extends Error {
  constructor(
    readonly what: string,
    message: string,
  ) {
    super(message);
    this.name = "RequestRefused";
  }
}

/** The asking side stopped waiting (AbortSignal, or the channel was disposed). */
export class RequestCancelled extends Error {
  constructor(readonly what: string) {
    super(`request '${what}' cancelled`);
    this.name = "AbortError"; // as fetch() names it
  }
}

/** No reply within the request's timeoutMs. */
export class RequestTimeout extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`no reply to '${what}' within ${(ms / 1000).toFixed(1)} s: is the kernel busy or gone?`);
    this.name = "RequestTimeout";
  }
}

/** True for errors that only mean "nobody is waiting any more". */
export function isCancelled(err: unknown): boolean {
  return err instanceof RequestCancelled;
}

let lastId = 0; // page-wide: two views of one widget model must not take each other's replies

interface Pending {
  what: string;
  resolve(reply: Reply): void;
  reject(err: Error): void;
  forget(): void; // clear the timer and the abort listener
}

/** The asking side: one per view (AttentionSource, the explorer app), on its widget model. */
export class RequestChannel {
  private pending = new Map<number, Pending>();
  private closed = false;
  // biome-ignore lint/suspicious/noExplicitAny: a reply is checked before use
  private onMessage = (content: any, buffers: DataView[] = []) => {
    if (content?.kind !== REPLY) return;
    const p = this.pending.get(content.id);
    if (!p) return; // another view's, or one we stopped waiting for
    this.settle(content.id);
    if (typeof content.error === "string") p.reject(new RequestRefused(p.what, content.error));
    else p.resolve({ content, buffers });
  };

  constructor(private widgetModel: WidgetModel) {
    widgetModel.on("msg:custom", this.onMessage);
  }

  /** Requests sent and not yet answered, cancelled or timed out. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Ask the host; resolves with its reply, rejects with RequestRefused (the host's error),
   * RequestTimeout or RequestCancelled. Many may be in flight at once.
   */
  request(what: string, params: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<Reply> {
    const { signal, timeoutMs } = options;
    if (this.closed || signal?.aborted) return Promise.reject(new RequestCancelled(what));
    const id = ++lastId;
    return new Promise<Reply>((resolve, reject) => {
      const onAbort = () => {
        this.settle(id);
        reject(new RequestCancelled(what));
      };
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.settle(id);
              reject(new RequestTimeout(what, timeoutMs));
            }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      const forget = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      this.pending.set(id, { what, resolve, reject, forget });
      this.widgetModel.send({ kind: REQUEST, id, what, ...params } satisfies RequestMessage);
    });
  }

  /**
   * Stop listening. Requests in flight are dropped and never settle (the view that asked
   * is gone; nothing waits on them), and their replies go unread. Later requests reject.
   */
  dispose() {
    this.closed = true;
    this.widgetModel.off("msg:custom", this.onMessage);
    for (const p of this.pending.values()) p.forget();
    this.pending.clear();
  }

  private settle(id: number) {
    this.pending.get(id)?.forget();
    this.pending.delete(id);
  }
}

// ------------------------------------------------------------- the host's side

/** A request message, as a host (a kernel-less widget model) receives it. */
export function isRequest(content: unknown): content is RequestMessage {
  const c = content as RequestMessage | null;
  return c?.kind === REQUEST && typeof c.what === "string";
}

/** The request's own parameters, without the envelope. */
export function requestParams(request: RequestMessage): Record<string, unknown> {
  const { kind: _kind, id: _id, what: _what, ...params } = request;
  return params;
}

/** A reply's body, without the envelope (to pass a kernel's answer on). */
export function replyBody(reply: ReplyMessage): Record<string, unknown> {
  const { kind: _kind, id: _id, ...body } = reply;
  return body;
}

/** The reply message to `request` carrying `body`. */
export function replyTo(request: RequestMessage, body: Record<string, unknown>): ReplyMessage {
  return { kind: REPLY, id: request.id, ...body };
}
