// Light / dark theme that follows the notebook front end:
// JupyterLab/Notebook 7 (body[data-jp-theme-light]), VS Code (body.vscode-dark),
// marimo (html.dark / [data-theme]), else the page background's luminance, else
// prefers-color-scheme.

export type ThemeName = "light" | "dark";

export interface Palette {
  name: ThemeName;
  background: string;
  foreground: string;
  muted: string;
  grid: string;
  mask: string; // causal mask cells
  highlight: string;
  arc: string;
  accentFont: string;
}

export const PALETTES: Record<ThemeName, Palette> = {
  light: {
    name: "light",
    background: "#ffffff",
    foreground: "#1f2328",
    muted: "#6e7781",
    grid: "#d0d7de",
    mask: "#eef0f2",
    highlight: "#fff3b0",
    arc: "#57606a",
    accentFont: "#0b5cad",
  },
  dark: {
    name: "dark",
    background: "#1e1e1e",
    foreground: "#e6edf3",
    muted: "#9198a1",
    grid: "#3d444d",
    mask: "#2a2d31",
    highlight: "#5a4b00",
    arc: "#b0b8c1",
    accentFont: "#79c0ff",
  },
};

function explicitTheme(doc: Document): ThemeName | null {
  const body = doc.body;
  const html = doc.documentElement;
  const jp = body?.dataset.jpThemeLight;
  if (jp === "true") return "light";
  if (jp === "false") return "dark";
  if (body?.classList.contains("vscode-dark") || body?.classList.contains("vscode-high-contrast")) return "dark";
  if (body?.classList.contains("vscode-light")) return "light";
  for (const node of [html, body]) {
    if (!node) continue;
    const t = node.getAttribute("data-theme") ?? node.getAttribute("data-color-mode");
    if (t === "dark" || t === "light") return t;
    if (node.classList.contains("dark") || node.classList.contains("dark-theme")) return "dark";
  }
  return null;
}

function luminanceTheme(el: Element): ThemeName | null {
  let node: Element | null = el;
  while (node) {
    const bg = getComputedStyle(node).backgroundColor;
    const m = bg.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/);
    if (m && (m[4] === undefined || parseFloat(m[4]) > 0.5)) {
      const lum = 0.2126 * +m[1] + 0.7152 * +m[2] + 0.0722 * +m[3];
      return lum < 128 ? "dark" : "light";
    }
    node = node.parentElement;
  }
  return null;
}

export function detectTheme(el: Element): ThemeName {
  const doc = el.ownerDocument;
  return (
    explicitTheme(doc) ??
    (el.parentElement ? luminanceTheme(el.parentElement) : null) ?? // the widget's own background does not count
    (doc.defaultView?.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light")
  );
}

/** Call `onChange` whenever the host's theme may have changed; returns an unsubscribe. */
export function watchTheme(el: Element, onChange: () => void): () => void {
  const doc = el.ownerDocument;
  const observer = new MutationObserver(onChange);
  const opts = { attributes: true, attributeFilter: ["class", "data-jp-theme-light", "data-theme", "style"] };
  if (doc.body) observer.observe(doc.body, opts);
  observer.observe(doc.documentElement, opts);
  const mq = doc.defaultView?.matchMedia?.("(prefers-color-scheme: dark)");
  mq?.addEventListener?.("change", onChange);
  return () => {
    observer.disconnect();
    mq?.removeEventListener?.("change", onChange);
  };
}

/**
 * The palette for `name`, with the host's own page colour as background when it
 * publishes one (JupyterLab's --jp-layout-color0), so the widget sits flush in it.
 */
export function hostPalette(el: Element, name: ThemeName): Palette {
  const base = PALETTES[name];
  const value = getComputedStyle(el).getPropertyValue("--jp-layout-color0").trim();
  const hex = toHex(value);
  if (!hex) return base;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return lum < 128 === (name === "dark") ? { ...base, background: hex } : base; // only if it matches the theme
}

function toHex(css: string): string | null {
  if (/^#[0-9a-f]{6}$/i.test(css)) return css.toLowerCase();
  if (/^#[0-9a-f]{3}$/i.test(css))
    return (
      "#" +
      [...css.slice(1)]
        .map((c) => c + c)
        .join("")
        .toLowerCase()
    );
  const m = css.match(/^rgba?\((\d+),\s*(\d+),\s*(\d+)/);
  return m
    ? "#" +
        m
          .slice(1, 4)
          .map((v) => Number(v).toString(16).padStart(2, "0"))
          .join("")
    : null;
}
