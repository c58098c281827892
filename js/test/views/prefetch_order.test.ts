import { describe, expect, it } from "vitest";
import { prefetchOrder } from "../../src/views/attention_app";

describe("prefetchOrder", () => {
  it("takes the neighbours first, then walks outwards", () => {
    expect(prefetchOrder(5, 12)).toEqual([6, 4, 7, 3, 8, 2, 9, 1, 10, 0, 11]);
  });

  it("stays inside the model's layers", () => {
    expect(prefetchOrder(0, 4)).toEqual([1, 2, 3]);
    expect(prefetchOrder(3, 4)).toEqual([2, 1, 0]);
    expect(prefetchOrder(0, 1)).toEqual([]);
  });
});
