import { describe, expect, it } from "vitest";
import { LongSource, newTile, type Tile, type TileGrid } from "../../src/data/long_source";
import { REPLY, type RequestMessage } from "../../src/data/protocol";
import { LocalWidgetModel } from "../../src/host/local_widget_model";
import { covered, firstTileLevel } from "../../src/views/long_matrix_view";

/** A widget model whose requests the test answers by hand, as the kernel would. */
class Kernel extends LocalWidgetModel {
  sent: RequestMessage[] = [];
  constructor() {
    super({ _meta: { kind: "self" } });
  }
  protected answer(request: RequestMessage) {
    this.sent.push(request);
  }
  /** Reply to a `tiles` request with the corners in `done` (each tile filled with r0 + c0 / 1e4), `dropped` the rest. */
  replyTiles(request: RequestMessage, done: number[][], dropped: number[][] = []) {
    const cells = request.cells as number;
    const arrays: Record<string, unknown> = {};
    const buffers: DataView[] = [];
    done.forEach(([r0, c0], k) => {
      const data = new Float32Array(cells * cells).fill(r0 + c0 / 1e4);
      arrays[`t${k}`] = { dtype: "float32", shape: [cells, cells], compression: null };
      buffers.push(new DataView(data.buffer));
    });
    const body = { combine: "mean", tiles: done, dropped, arrays, order: Object.keys(arrays), ms: 1, tile_ms: [] };
    this.emit("msg:custom", { kind: REPLY, id: request.id, ...body }, buffers);
  }
  refuse(request: RequestMessage, error: string) {
    this.emit("msg:custom", { kind: REPLY, id: request.id, error }, []);
  }
}

const grid: TileGrid = { layer: 2, heads: [1, 3], r: 1, cells: 4, hideFirst: false, renormalise: false };
const side = grid.cells * grid.r;
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("LongSource: a zoom step's tiles in one request", () => {
  it("asks for every tile of a step in one message and caches what the reply brings", async () => {
    const kernel = new Kernel();
    const source = new LongSource(kernel);
    const done = source.tiles(grid, [
      [0, 0],
      [1, 0],
      [1, 1],
    ]);
    expect(kernel.sent).toHaveLength(1);
    const ask = kernel.sent[0];
    expect(ask.what).toBe("tiles");
    expect(ask.tiles).toEqual([
      [0, 0],
      [side, 0],
      [side, side],
    ]);
    expect(ask).toMatchObject({ layer: 2, heads: [1, 3], r: 1, cells: 4, hide_first: false, prefetch: false, shade: true });
    expect(source.coming(grid, 1, 1)).toBe(true);
    expect(source.waitingTiles).toBe(3);
    kernel.replyTiles(ask, ask.tiles as number[][]);
    expect(await done).toEqual({ asked: 3, dropped: 0 });
    expect(source.waitingTiles).toBe(0);
    const tile = source.peek<Tile>(source.tileKey(grid, 1, 1))!;
    expect(tile.r0).toBe(side);
    expect(tile.data![0]).toBeCloseTo(side + side / 1e4);
    expect(tile.shade[0]).toBe(255); // sqrt-shaded once, clamped to 1
    // Cached tiles are not asked again; only the new one is.
    void source.tiles(grid, [
      [1, 1],
      [2, 1],
    ]);
    expect(kernel.sent).toHaveLength(2);
    expect(kernel.sent[1].tiles).toEqual([[2 * side, side]]);
  });

  it("keys tiles by hide_first and renormalise (they are different weights)", async () => {
    const kernel = new Kernel();
    const source = new LongSource(kernel);
    const plain = source.tiles(grid, [[0, 0]]);
    kernel.replyTiles(kernel.sent[0], [[0, 0]]);
    await plain;
    const hidden = { ...grid, hideFirst: true, renormalise: true };
    expect(source.coming(hidden, 0, 0)).toBe(false);
    void source.tiles(hidden, [[0, 0]]);
    expect(kernel.sent[1]).toMatchObject({ hide_first: true, renormalise: true, tiles: [[0, 0]] });
  });

  it("a newer step asks again for what a superseded one still waits for; the old one's drops do not fail it", async () => {
    const kernel = new Kernel();
    const source = new LongSource(kernel);
    const first = source.tiles(grid, [
      [0, 0],
      [1, 0],
    ]);
    const second = source.tiles(grid, [
      [1, 0],
      [1, 1],
    ]);
    const [old, fresh] = kernel.sent;
    expect(fresh.view).toBe(old.view); // the kernel drops the older batch's unstarted tiles
    expect(fresh.tiles).toEqual([
      [side, 0],
      [side, side],
    ]);
    expect(source.coming(grid, 0, 0)).toBe(false); // only the latest batch's tiles count as coming
    expect(source.coming(grid, 1, 0)).toBe(true);
    let waited: string | null = null;
    source.tile(grid, 1, 0).then(
      () => (waited = "came"),
      () => (waited = "failed"),
    );
    // The old batch's reply: tile (0, 0) done, (1, 0) dropped (the newer batch owns it now).
    kernel.replyTiles(old, [[0, 0]], [[side, 0]]);
    expect(await first).toEqual({ asked: 2, dropped: 1 });
    await flush();
    expect(waited).toBeNull(); // still waiting: the newer batch brings it
    expect(source.coming(grid, 1, 0)).toBe(true);
    kernel.replyTiles(fresh, fresh.tiles as number[][]);
    expect(await second).toEqual({ asked: 2, dropped: 0 });
    await flush();
    expect(waited).toBe("came");
    expect(kernel.sent).toHaveLength(2); // the single tile shared the batch: no request of its own
  });

  it("a dropped tile of the latest batch is forgotten, so the view asks for it again", async () => {
    const kernel = new Kernel();
    const source = new LongSource(kernel);
    const step = source.tiles(grid, [[0, 0]]);
    kernel.replyTiles(kernel.sent[0], [], [[0, 0]]);
    expect(await step).toEqual({ asked: 1, dropped: 1 });
    expect(source.coming(grid, 0, 0)).toBe(false);
    void source.tiles(grid, [[0, 0]]);
    expect(kernel.sent).toHaveLength(2);
  });

  it("a refusal rejects the batch with the host's words", async () => {
    const kernel = new Kernel();
    const source = new LongSource(kernel);
    const step = source.tiles(grid, [[0, 0]]);
    kernel.refuse(kernel.sent[0], "this file holds layer 2 at 8 tokens per cell");
    await expect(step).rejects.toThrow("8 tokens per cell");
    expect(source.coming(grid, 0, 0)).toBe(false);
  });
});

describe("newTile", () => {
  it("keeps a pooled tile's shades as they came, and shades float weights once", () => {
    const shades = Uint8Array.from([0, 16, 255, 128]);
    const pooledTile = newTile(0, 0, { ...grid, r: 2, cells: 2 }, "max", shades);
    expect(pooledTile.data).toBeNull();
    expect(pooledTile.shade).toBe(shades);
    const exact = newTile(0, 0, { ...grid, cells: 2 }, "mean", Float32Array.from([0, 0.25, 1, 2]));
    expect(Array.from(exact.shade)).toEqual([0, 128, 255, 255]); // round(sqrt(w) * 255), clamped
  });
});

describe("covered", () => {
  it("finds the pixels whose tokens fall in a range", () => {
    const at = Int32Array.from([0, 0, 1, 1, 2, 3, 5, 8]);
    expect(covered(at, 1, 3)).toEqual([2, 5]);
    expect(covered(at, 4, 9)).toEqual([6, 8]);
    expect(covered(at, 9, 12)).toEqual([8, 8]);
  });
});

describe("firstTileLevel", () => {
  it("is the largest power of two at most a quarter of the overview's block (1 at least), where the view switches to tiles", () => {
    expect(firstTileLevel(16)).toBe(4); // 8,192 tokens over 512 cells: r = 8 would be only twice as fine
    expect(firstTileLevel(12)).toBe(2);
    expect(firstTileLevel(32)).toBe(8);
    expect(firstTileLevel(4)).toBe(1);
    expect(firstTileLevel(2)).toBe(1);
    expect(firstTileLevel(1)).toBe(0); // one token a cell: the overview is exact, no tiles
  });
});
