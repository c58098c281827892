import { describe, expect, it } from "vitest";
import { SvgPainter } from "../../src/draw/painter";

describe("SvgPainter", () => {
  it("writes token text escaped, never as markup", () => {
    const p = new SvgPainter(100, 20);
    p.text('<img src=x onerror="alert(1)">&', 0, 10, { font: "12px sans-serif", colour: "#000" });
    const svg = p.toString();
    expect(svg).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;");
    expect(svg).not.toContain("<img");
  });
});
