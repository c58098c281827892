import { afterEach, describe, expect, it, vi } from "vitest";
import {
  isCancelled,
  isRequest,
  REPLY,
  REQUEST,
  RequestCancelled,
  RequestChannel,
  type RequestMessage,
  RequestRefused,
  RequestTimeout,
  replyBody,
  replyTo,
  requestParams,
} from "../../src/data/protocol";
import { LocalWidgetModel } from "../../src/host/local_widget_model";

/** A widget model whose requests the test answers by hand, as a kernel would. */
class Kernel extends LocalWidgetModel {
  sent: RequestMessage[] = [];
  constructor() {
    super({});
  }
  protected answer(request: RequestMessage) {
    this.sent.push(request);
  }
  /** Deliver a reply to every listening view, as a kernel's comm message is. */
  deliver(content: Record<string, unknown>, buffers: DataView[] = []) {
    this.emit("msg:custom", content, buffers);
  }
  listeners(event: string): number {
    return (this as any).handlers.get(event)?.size ?? 0;
  }
}

/** A page host that answers every request itself: the echo of its parameters. */
class EchoHost extends LocalWidgetModel {
  constructor() {
    super({});
  }
  protected answer(request: RequestMessage) {
    if (request.what === "fail") this.reply(request, { error: "no such thing" });
    else this.reply(request, { echo: requestParams(request) }, [new DataView(new Uint8Array([1, 2]).buffer)]);
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("RequestChannel", () => {
  it("sends the request envelope and resolves with the reply and its buffers", async () => {
    const k = new Kernel();
    const ch = new RequestChannel(k);
    const asked = ch.request("layer", { layer: 3 });
    const [req] = k.sent;
    expect(req).toEqual({ kind: REQUEST, id: req.id, what: "layer", layer: 3 });
    const buf = new DataView(new ArrayBuffer(4));
    k.deliver({ kind: REPLY, id: req.id, payload: { layer: 3 } }, [buf]);
    const r = await asked;
    expect(r.content).toEqual({ kind: REPLY, id: req.id, payload: { layer: 3 } });
    expect(r.buffers[0]).toBe(buf);
    expect(ch.inFlight).toBe(0);
  });

  it("keeps many requests in flight and matches replies that come back out of order", async () => {
    const k = new Kernel();
    const ch = new RequestChannel(k);
    const asked = [0, 1, 2].map((t) => ch.request("tile", { t }));
    expect(ch.inFlight).toBe(3);
    for (const req of [...k.sent].reverse()) k.deliver({ kind: REPLY, id: req.id, t: req.t });
    const got = await Promise.all(asked);
    expect(got.map((r) => r.content.t)).toEqual([0, 1, 2]);
  });

  it("never takes another view's reply: two views of one widget model ask at once", async () => {
    const k = new Kernel();
    const a = new RequestChannel(k);
    const b = new RequestChannel(k);
    const fromA = a.request("thumbnails", { hide_first: false });
    const fromB = b.request("neuron", { layer: 0, head: 1 });
    expect(new Set(k.sent.map((r) => r.id)).size).toBe(2);
    // The kernel answers B first; both views hear it.
    k.deliver({ kind: REPLY, id: k.sent[1].id, neuron: "B's" });
    k.deliver({ kind: REPLY, id: k.sent[0].id, thumbnails: "A's" });
    expect((await fromA).content.thumbnails).toBe("A's");
    expect((await fromB).content.neuron).toBe("B's");
  });

  it("rejects with the host's own words when it refuses", async () => {
    const k = new Kernel();
    const ch = new RequestChannel(k);
    const asked = ch.request("neuron", { layer: 9 });
    k.deliver({ kind: REPLY, id: k.sent[0].id, error: "no layer 9 / head 0 of attention 'self'" });
    const err = await asked.catch((e) => e);
    expect(err).toBeInstanceOf(RequestRefused);
    expect(err.message).toBe("no layer 9 / head 0 of attention 'self'");
    expect(err.what).toBe("neuron");
  });

  it("times out when asked to, then ignores the late reply", async () => {
    vi.useFakeTimers();
    const k = new Kernel();
    const ch = new RequestChannel(k);
    const asked = ch.request("tile", { t: 1 }, { timeoutMs: 500 });
    const settled = asked.catch((e) => e);
    vi.advanceTimersByTime(499);
    expect(ch.inFlight).toBe(1);
    vi.advanceTimersByTime(1);
    const err = await settled;
    expect(err).toBeInstanceOf(RequestTimeout);
    expect(err.message).toMatch(/no reply to 'tile' within 0\.5 s/);
    expect(ch.inFlight).toBe(0);
    k.deliver({ kind: REPLY, id: k.sent[0].id, t: 1 }); // too late: dropped, nothing throws
  });

  it("waits as long as it takes without a timeout (a slow model run)", async () => {
    vi.useFakeTimers();
    const k = new Kernel();
    const ch = new RequestChannel(k);
    let done = false;
    const asked = ch.request("neuron").then(() => (done = true));
    vi.advanceTimersByTime(3_600_000);
    expect(done).toBe(false);
    k.deliver({ kind: REPLY, id: k.sent[0].id, neuron: {} });
    await asked;
    expect(done).toBe(true);
  });

  it("cancels with an AbortSignal: rejects at once, forgets the request, drops its reply", async () => {
    const k = new Kernel();
    const ch = new RequestChannel(k);
    const stale = new AbortController();
    const asked = ch.request("tile", { t: 7 }, { signal: stale.signal, timeoutMs: 60_000 });
    const kept = ch.request("tile", { t: 8 });
    stale.abort();
    const err = await asked.catch((e) => e);
    expect(err).toBeInstanceOf(RequestCancelled);
    expect(err.name).toBe("AbortError");
    expect(isCancelled(err)).toBe(true);
    expect(ch.inFlight).toBe(1);
    k.deliver({ kind: REPLY, id: k.sent[0].id, t: 7 });
    k.deliver({ kind: REPLY, id: k.sent[1].id, t: 8 });
    expect((await kept).content.t).toBe(8);
  });

  it("sends nothing for a signal already aborted", async () => {
    const k = new Kernel();
    const ch = new RequestChannel(k);
    const gone = new AbortController();
    gone.abort();
    await expect(ch.request("tile", {}, { signal: gone.signal })).rejects.toBeInstanceOf(RequestCancelled);
    expect(k.sent).toEqual([]);
  });

  it("dispose: stops listening, leaves requests in flight unsettled, refuses new ones", async () => {
    vi.useFakeTimers();
    const k = new Kernel();
    const ch = new RequestChannel(k);
    expect(k.listeners("msg:custom")).toBe(1);
    let settled = false;
    void ch.request("thumbnails", {}, { timeoutMs: 1000 }).then(
      () => (settled = true),
      () => (settled = true),
    );
    ch.dispose();
    expect(k.listeners("msg:custom")).toBe(0);
    k.deliver({ kind: REPLY, id: k.sent[0].id, thumbnails: {} });
    vi.advanceTimersByTime(5000); // its timer went with it
    await Promise.resolve();
    expect(settled).toBe(false);
    await expect(ch.request("layer", { layer: 0 })).rejects.toBeInstanceOf(RequestCancelled);
    expect(k.sent).toHaveLength(1);
  });

  it("talks to a page's own host (a kernel-less widget model) the same way", async () => {
    const ch = new RequestChannel(new EchoHost());
    const r = await ch.request("overview", { layer: 2, heads: [0, 1] });
    expect(r.content.echo).toEqual({ layer: 2, heads: [0, 1] });
    expect(Array.from(new Uint8Array(r.buffers[0].buffer))).toEqual([1, 2]);
    await expect(ch.request("fail")).rejects.toThrow("no such thing");
  });
});

describe("the host's side", () => {
  it("recognises requests and builds the reply envelope", () => {
    const req = { kind: REQUEST, id: 12, what: "layer", layer: 4 } as RequestMessage;
    expect(isRequest(req)).toBe(true);
    expect(isRequest({ kind: REPLY, id: 12 })).toBe(false);
    expect(isRequest({ kind: REQUEST, id: 1 })).toBe(false);
    expect(isRequest(null)).toBe(false);
    expect(requestParams(req)).toEqual({ layer: 4 });
    const reply = replyTo(req, { payload: 1 });
    expect(reply).toEqual({ kind: REPLY, id: 12, payload: 1 });
    expect(replyBody(reply)).toEqual({ payload: 1 });
  });

  it("a kernel-less host replies after the current task, as a kernel would", async () => {
    const host = new EchoHost();
    const heard = vi.fn();
    host.on("msg:custom", heard);
    host.send({ kind: REQUEST, id: 3, what: "x", a: 1 });
    expect(heard).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(heard).toHaveBeenCalledOnce());
    expect(heard.mock.calls[0][0]).toEqual({ kind: REPLY, id: 3, echo: { a: 1 } });
  });
});
