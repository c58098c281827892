// The widget controller: reads traits, asks the source for data, builds the
// scene and hands it to the current view. One instance per rendered output.

import { AttentionSource, type Thumbnails } from "../data/attention_source";
import { ByteCache } from "../data/byte_cache";
import { decoder } from "../data/decoder";
import { type Drawn, drawnUnits, isShown, pairRanges, splitUnit, thumbWindow } from "../data/filters";
import { isLayerInfo } from "../data/long_source";
import type { Meta } from "../data/meta";
import type { NeuronHead } from "../data/neuron_head";
import { type Focus, type Pruned, pruneLayer } from "../data/prune";
import { relationText } from "../data/relations";
import type { Scene, ViewStats } from "../data/scene";
import { type UnitSyntax, unitSyntax } from "../data/syntax";
import { readTraits, TRAIT_NAMES, type Traits, writeTraits } from "../data/traits";
import { bytesOf, hideFirst, type LayerMatrix, mergeUnits } from "../data/transform";
import { headColour } from "../draw/colours";
import { SvgPainter } from "../draw/painter";
import { detectTheme, hostPalette, type Palette, watchTheme } from "../draw/theme";
import type { WidgetModel } from "../host/widget_model";
import css from "./attention.css";
import { Controls } from "./controls";
import { HeadView } from "./head_view";
import { Legend, legendItems } from "./legend";
import { LongMode } from "./long_mode";
import { MatrixView } from "./matrix_view";
import { ModelView } from "./model_view";
import { type NeuronScene, NeuronView } from "./neuron_view";

/** Bytes of transformed layers (word-merged, or the per-row scales of hide_first) and of kept lines held. */
const PREPARED_BYTES = 48 * 1024 * 1024;

/** Bytes a pruned layer holds: its kept column indices and one array per row. */
function prunedBytes(p: Pruned): number {
  let bytes = 0;
  for (const rows of p.rows) for (const r of rows) bytes += r.byteLength + 64;
  return bytes;
}

export class AttentionApp {
  private doc: Document;
  private root: HTMLElement;
  private stage: HTMLElement;
  private status: HTMLElement;
  private tooltip: HTMLElement;
  private tokenList: HTMLOListElement;
  /** The units the head / matrix view shows, per axis, in shown order (data-unit = original index). */
  private shownLists: { query: HTMLOListElement; key: HTMLOListElement };
  private controls: Controls;
  private legend: Legend;
  private source: AttentionSource;
  private headView: HeadView;
  private matrixView: MatrixView;
  private modelView: ModelView;
  private neuronView: NeuronView;
  private write: (c: Partial<Traits>) => void;
  private download_: (k: "png" | "svg") => void;
  private hosts: Record<Traits["view"], HTMLElement>;
  private meta: Meta;
  private traits: Traits;
  private scene: Scene | null = null;
  private hover: Focus | null = null;
  private cellHover: { row: number; col: number } | null = null;
  private gridHover: { layer: number; head: number } | null = null;
  private thumbs: Thumbnails | null = null;
  private transformed = new ByteCache<LayerMatrix>(PREPARED_BYTES);
  private pruned = new ByteCache<Pruned>(PREPARED_BYTES);
  private frame = 0;
  private generation = 0;
  private draws = 0;
  private cleanup: (() => void)[] = [];
  private created = performance.now();

  constructor(
    private widgetModel: WidgetModel,
    host: HTMLElement,
  ) {
    this.doc = host.ownerDocument;
    this.meta = widgetModel.get("_meta") as Meta;
    this.traits = readTraits(widgetModel);
    this.root = this.div("aw-root");
    const style = this.doc.createElement("style");
    style.textContent = css;
    this.write = (c) => writeTraits(widgetModel, c);
    this.download_ = (k) => this.download(k);
    this.controls = new Controls(this.doc, this.meta, this.write, this.download_);
    this.stage = this.div("aw-stage");
    this.hosts = { head: this.div("aw-view"), model: this.div("aw-view"), matrix: this.div("aw-view"), neuron: this.div("aw-view") };
    for (const [name, h] of Object.entries(this.hosts)) {
      h.dataset.view = name;
      this.stage.appendChild(h);
    }
    this.status = this.div("aw-status");
    this.status.setAttribute("aria-live", "polite");
    this.tooltip = this.div("aw-tooltip");
    this.tooltip.hidden = true;
    this.tokenList = this.doc.createElement("ol");
    this.tokenList.className = "aw-tokens";
    this.tokenList.setAttribute("aria-label", "tokens");
    const shownList = (role: "query" | "key") => {
      const ol = this.doc.createElement("ol");
      ol.className = "aw-shown";
      ol.dataset.role = role;
      ol.setAttribute(
        "aria-label",
        role === "query" ? "query tokens shown (left column, rows)" : "key tokens shown (right column, columns)",
      );
      return ol;
    };
    this.shownLists = { query: shownList("query"), key: shownList("key") };
    this.root.append(
      style,
      this.controls.root,
      this.stage,
      this.status,
      this.tooltip,
      this.tokenList,
      this.shownLists.query,
      this.shownLists.key,
    );
    this.legend = new Legend(this.doc);
    this.stage.after(this.legend.root);
    host.appendChild(this.root);

    this.source = new AttentionSource(widgetModel);
    // "worker": inflating and unpacking run off this thread; "main": a host forbids workers (tests read it)
    this.root.dataset.decoder = decoder().mode;
    void decoder().settled.then((mode) => {
      this.root.dataset.decoder = mode;
    });
    this.headView = new HeadView(this.hosts.head, this.stage, {
      hover: (t, ev) => this.onHeadHover(t, ev),
      click: (t) => this.onHeadClick(t),
      scroll: () => this.scheduleDraw(),
      refined: () => this.scheduleDraw(),
    });
    this.matrixView = new MatrixView(this.hosts.matrix, {
      hover: (c, ev) => this.onCellHover(c, ev),
      click: (c) => this.lockToken(c ? { unit: c.row, role: "query" } : null),
    });
    this.modelView = new ModelView(this.hosts.model, {
      hover: (g, ev) => this.onGridHover(g, ev),
      click: (g) => g && writeTraits(widgetModel, { layer: g.layer, heads: [g.head], view: "matrix", token: null }),
    });
    this.neuronView = new NeuronView(this.hosts.neuron, this.stage, {
      move: (token) => writeTraits(widgetModel, { token, token_role: "query" }),
      hover: (text, ev) => this.showTooltip(text, ev),
      scroll: () => this.scheduleDraw(),
    });

    const onChange = () => {
      this.traits = readTraits(widgetModel);
      this.invalidate();
    };
    for (const name of TRAIT_NAMES) widgetModel.on(`change:${name}`, onChange);
    widgetModel.on("change:_layer_data", onChange);
    const onMeta = () => this.metaChanged();
    widgetModel.on("change:_meta", onMeta);
    this.cleanup.push(() => {
      for (const name of TRAIT_NAMES) widgetModel.off(`change:${name}`, onChange);
      widgetModel.off("change:_layer_data", onChange);
      widgetModel.off("change:_meta", onMeta);
    });
    this.cleanup.push(watchTheme(this.root, () => this.invalidate()));
    // The head view draws only the rows in view: redraw when the stage changes size.
    if (typeof ResizeObserver !== "undefined") {
      const resize = new ResizeObserver(() => this.scheduleDraw());
      resize.observe(this.stage);
      this.cleanup.push(() => resize.disconnect());
    }
    this.invalidate();
  }

  /** The view's end (anywidget calls it when the view is removed): listeners, timers, frames,
   * observers and the decoded attention go; an update still awaiting data draws nothing. */
  dispose() {
    this.generation++;
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    cancelAnimationFrame(this.drawFrame);
    clearTimeout(this.prefetchTimer);
    for (const f of this.cleanup) f();
    this.cleanup = [];
    this.source.dispose();
    this.long?.dispose();
    this.transformed.clear();
    this.pruned.clear();
    this.thumbs = null;
    this.scene = null;
    this.root.remove();
  }
  private disposed = false;

  /** Another attention of the input (encoder-decoder kinds): new tokens, new controls. */
  private metaChanged() {
    this.meta = this.widgetModel.get("_meta") as Meta;
    const controls = new Controls(this.doc, this.meta, this.write, this.download_);
    this.controls.root.replaceWith(controls.root);
    this.controls = controls;
    this.thumbs = null;
    this.traits = readTraits(this.widgetModel);
    this.invalidate();
  }

  private div(cls: string): HTMLDivElement {
    const d = this.doc.createElement("div");
    d.className = cls;
    return d;
  }

  private palette(): Palette {
    const t = this.traits.theme;
    return hostPalette(this.root, t === "light" || t === "dark" ? t : detectTheme(this.root));
  }

  /** Coalesce changes into one update per animation frame. */
  invalidate() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      void this.update();
    });
  }

  private async update() {
    const t = this.traits;
    const gen = ++this.generation;
    this.controls.sync(t);
    const palette = this.palette();
    this.root.dataset.theme = palette.name;
    this.root.style.setProperty("--aw-bg", palette.background);
    for (const [name, h] of Object.entries(this.hosts)) h.hidden = name !== t.view;

    if (t.view === "neuron") {
      await this.updateNeuron(gen, palette);
      return;
    }

    if (t.view === "model") {
      if (!this.thumbs || this.thumbsFirst !== t.hide_first) {
        this.modelView.render(this.modelViewScene(palette, null), null);
        this.setStatus("loading thumbnails…");
        const thumbs = await this.source.thumbnails(t.hide_first);
        if (gen !== this.generation) return;
        this.thumbs = thumbs;
        this.thumbsFirst = t.hide_first;
      }
      this.modelView.render(this.modelViewScene(palette, this.thumbs), this.gridHover);
      this.setStatus(
        `${this.meta.model} · ${this.meta.num_layers} layers × ${this.meta.num_heads} heads · click a head to open it${this.partText("token")}`,
      );
      this.showLegend(palette);
      this.drawn();
      return;
    }

    if (isLayerInfo(this.widgetModel.get("_layer_data"))) {
      await this.drawLong(gen);
      return;
    }
    this.long?.show(false);
    if (!this.source.has(t.layer)) this.setStatus(`loading layer ${t.layer}…`);
    const t0 = performance.now();
    const raw = await this.source.layer(t.layer);
    if (gen !== this.generation) return; // a newer change is being drawn
    const t1 = performance.now();
    const syntax = unitSyntax(this.meta, t.level);
    this.scene = this.buildScene(raw, syntax, palette);
    this.syncTokenList(syntax);
    this.syncShownLists(this.scene);
    const t2 = performance.now();
    this.drawCurrent();
    const t3 = performance.now();
    // Where the time goes (read by bench/bench_widget.py).
    this.root.dataset.timings = JSON.stringify({ data: t1 - t0, scene: t2 - t1, draw: t3 - t2 });
    this.prefetchAround(t.layer);
  }
  private thumbsFirst = false;
  /** The head and matrix views of a long input; made when the first one arrives (short inputs never need them). */
  private long: LongMode | null = null;

  /** A long input's head or matrix view (summaries and tiles asked for as needed). */
  private async drawLong(gen: number) {
    const info = this.widgetModel.get("_layer_data");
    if (!isLayerInfo(info) || info.layer !== this.traits.layer) return; // the kernel's answer to a layer change is on its way
    const t0 = performance.now();
    this.syncTokenList({ labels: this.meta.tokens } as UnitSyntax);
    this.long ??= new LongMode(this.widgetModel, this.hosts, this.stage, {
      status: (text) => this.setStatus(text),
      tooltip: (text, ev) => this.showTooltip(text, ev),
      redraw: () => this.scheduleDraw(),
      lock: (row) => this.lockToken(row === null ? null : { unit: row, role: "query" }),
      legend: (items) => this.legend.show(items),
    });
    await this.long.draw(info, this.meta, this.traits, this.palette());
    if (gen !== this.generation && this.generation !== gen) return;
    this.root.dataset.timings = JSON.stringify({ data: 0, scene: 0, draw: performance.now() - t0 });
    this.drawn();
  }

  /** Fetch the selected head's vectors (once per layer and head) and draw the query token's row. */
  private async updateNeuron(gen: number, palette: Palette) {
    const t = this.traits;
    this.legend.show(null); // the neuron view has its own legend
    const meta = this.meta;
    if (t.level === "word") {
      writeTraits(this.widgetModel, { level: "token", token: null }); // words have no query vector
      return;
    }
    const units = meta.levels.token;
    const queryLabels = units.labels;
    const keyLabels = meta.key_tokens ?? queryLabels;
    const head = t.heads[0] ?? 0;
    const drawn = drawnUnits(meta, units, t.pair_filter, t.step, keyLabels.length);
    const n = queryLabels.length;
    const token = Math.min(n - 1, t.token ?? drawn.stepRow ?? (meta.is_causal ? n - 1 : 0));
    const group = meta.kv_heads?.[head];
    const kindText = meta.kind && meta.kind !== "self" ? ` · ${meta.kind} attention` : "";
    const groupText = group === undefined ? "" : ` (key/value head ${group} of ${Math.max(...meta.kv_heads!) + 1})`;
    const base = {
      palette,
      queryLabels,
      keyLabels,
      token,
      colour: headColour(head),
      split: meta.kind === "cross" ? null : drawn.split,
      title: `layer ${t.layer} · head ${head}${groupText}${kindText}`,
    };
    const t0 = performance.now();
    let nh: NeuronHead | null = null;
    let message: string | null = null;
    if (!meta.neuron) {
      message =
        "The neuron view needs the model: this widget was made from attention weights alone " +
        "(from_attention). Create it with AttentionWidget(text, model=...) to see query and key vectors.";
    } else {
      this.setStatus(`fetching the vectors of layer ${t.layer}, head ${head}…`);
      try {
        nh = await this.source.neuron(t.layer, head);
      } catch (err) {
        message = `The vectors of layer ${t.layer}, head ${head} are not available: ${(err as Error).message}`;
      }
    }
    if (gen !== this.generation) return;
    const t1 = performance.now();
    const scene: NeuronScene = { ...base, head: nh, message };
    this.neuronView.render(scene);
    this.syncTokenList({ labels: queryLabels } as UnitSyntax);
    const t2 = performance.now();
    this.root.dataset.timings = JSON.stringify({ data: t1 - t0, scene: 0, draw: t2 - t1 });
    const row = this.neuronView.current();
    if (row && nh) {
      let best = -1;
      row.weights.forEach((w, j) => {
        if (best < 0 || w > row.weights[best]) best = j;
      });
      this.setStatus(
        `${meta.model} · ${nh.family} · query ${token} ${JSON.stringify(queryLabels[token])} attends most to ` +
          `${best} ${JSON.stringify(keyLabels[best])} (${row.weights[best].toFixed(3)}) · ←/→ move the query, Enter expands`,
      );
    } else {
      this.setStatus(`${meta.model} · neuron view · layer ${t.layer} · head ${head}`);
    }
    this.drawn();
  }

  private modelViewScene(palette: Palette, thumbs: Thumbnails | null) {
    const t = this.traits;
    return {
      window: thumbs ? thumbWindow(this.meta, t.pair_filter, thumbs.blocks) : null,
      palette,
      thumbs,
      layers: this.meta.num_layers,
      heads: this.meta.num_heads,
      causal: this.meta.is_causal,
      layer: t.layer,
      selectedHeads: t.heads,
    };
  }

  /** Attention after hide_first / word merging, and its kept lines, cached per setting. */
  private prepare(layer: number, raw: LayerMatrix): { matrix: LayerMatrix; pruned: Pruned; key: string; heads: number[] } {
    const t = this.traits;
    const tkey = `${this.meta.kind ?? "self"}|${layer}|${t.hide_first}|${t.renormalise}|${t.level}`;
    let matrix = this.transformed.get(tkey);
    if (!matrix) {
      matrix = t.hide_first ? hideFirst(raw, t.renormalise) : raw;
      const word = this.meta.levels.word;
      if (t.level === "word" && word) matrix = mergeUnits(matrix, word.of_token, word.labels.length);
      // The raw planes are the source's to count: only what the transform added is counted here.
      this.transformed.set(tkey, matrix, matrix.data === raw.data ? bytesOf(matrix) - raw.data.byteLength : bytesOf(matrix));
    }
    const heads = t.heads.filter((h) => h >= 0 && h < matrix!.heads);
    const key = `${tkey}|${heads}|${t.prune}|${t.threshold}`;
    let pruned = this.pruned.get(key);
    if (!pruned) {
      pruned = pruneLayer(matrix, heads, t.prune, t.threshold);
      this.pruned.set(key, pruned, prunedBytes(pruned));
    }
    return { matrix, pruned, key, heads };
  }

  /**
   * When idle, fetch the other layers so switching to them is instant: the neighbours first
   * (their transforms prepared too), then outwards while the decoded layers still fit in the
   * source's budget (a prefetch never evicts a layer). Each is one request the kernel answers
   * between the user's; a change of layer stops the walk.
   */
  private prefetchAround(layer: number) {
    clearTimeout(this.prefetchTimer);
    this.prefetchTimer = window.setTimeout(async () => {
      const cols = this.meta.key_tokens?.length ?? this.meta.tokens.length;
      const perLayer = this.meta.num_heads * this.meta.tokens.length * cols; // decoded uint8 planes
      for (const l of prefetchOrder(layer, this.meta.num_layers)) {
        if (this.traits.layer !== layer || this.disposed) return; // the user moved on, or closed the view
        const neighbour = Math.abs(l - layer) === 1;
        if (!neighbour && !this.source.has(l) && !this.source.hasRoomFor(perLayer)) return;
        try {
          const raw = await this.source.prefetch(l);
          if (this.traits.layer !== layer || this.disposed) return;
          if (neighbour) this.prepare(l, raw);
        } catch {
          return; // the host cannot prefetch (e.g. a layer it does not have): switch on demand
        }
      }
    }, 120);
  }
  private prefetchTimer = 0;

  private buildScene(raw: LayerMatrix, syntax: UnitSyntax, palette: Palette): Scene {
    const t = this.traits;
    const { matrix, pruned, key, heads } = this.prepare(t.layer, raw);
    const n = syntax.labels.length;
    const units = (t.level === "word" && this.meta.levels.word) || this.meta.levels.token;
    const keyLabels = this.meta.key_tokens ?? syntax.labels;
    const drawn = drawnUnits(this.meta, units, t.pair_filter, t.step, keyLabels.length);
    // A locked token outside the block shown isolates nothing: draw as unlocked (the trait keeps it).
    const asked = t.token !== null && t.token >= 0 && t.token < n ? { unit: t.token, role: t.token_role } : null;
    const locked = asked && isShown(drawn, asked) ? asked : null;
    // A generation step shows the row that wrote the token, as if that row were locked.
    const selected = locked ?? (drawn.stepRow !== null ? { unit: drawn.stepRow, role: "query" as const } : null);
    return {
      keyLabels,
      drawn,
      palette,
      syntax,
      matrix,
      pruned,
      layer: t.layer,
      heads,
      numHeads: this.meta.num_heads,
      causal: this.meta.is_causal,
      selected,
      key: `${key}|${t.pair_filter}|${t.step}`,
    };
  }

  private drawFrame = 0;

  /** Redraw from the last scene at the next frame (scrolling). */
  private scheduleDraw() {
    if (this.drawFrame) return;
    this.drawFrame = requestAnimationFrame(() => {
      this.drawFrame = 0;
      this.drawCurrent();
    });
  }

  /** Redraw the current view from the last scene (synchronous: used on hover). */
  private drawCurrent() {
    const t = this.traits;
    if (t.view === "neuron") return this.neuronView.redraw(); // scrolling
    if ((t.view === "head" || t.view === "matrix") && isLayerInfo(this.widgetModel.get("_layer_data"))) {
      void this.drawLong(this.generation);
      return;
    }
    const scene = this.scene;
    if (!scene) return;
    if (t.view === "head") {
      const stats = this.headView.render(scene, this.shownHover(scene));
      this.setStatus(this.describe(stats));
    } else if (t.view === "matrix") {
      this.matrixView.render(scene, this.cellHover);
      const what = scene.heads.length === 1 ? `head ${scene.heads[0]}` : `mean of ${scene.heads.length} heads`;
      this.setStatus(`${this.meta.model} · layer ${t.layer} · ${what} · ${t.level} level${this.partText(t.level, scene.drawn)}`);
    }
    this.showLegend(scene.palette);
    this.drawn();
  }

  /** The legend of the view shown: its marks and colours in this state (views/legend.ts). */
  private showLegend(palette: Palette) {
    const t = this.traits;
    const s = t.view === "model" ? null : this.scene;
    if (t.view === "neuron" || (t.view !== "model" && !s)) return this.legend.show(null);
    const d = s?.drawn;
    const muted = (on: Uint8Array | null, units: Int32Array) => on !== null && units.some((u) => !on[u]);
    this.legend.show(
      legendItems({
        view: t.view,
        palette,
        heads: s ? s.heads : [],
        hasSyntax: !!s?.syntax.hasSyntax,
        syntaxSource: this.meta.syntax?.source,
        causal: this.meta.is_causal,
        parts: d && this.meta.split && (d.rowAxis.split !== null || d.colAxis.split !== null) ? this.meta.split.names : null,
        outside: !!d && (muted(d.rows, d.rowAxis.units) || muted(d.cols, d.colAxis.units)),
        locked: !!s?.selected && t.token !== null,
        hiddenArcLabels: t.view === "head" ? this.headView.hiddenArcLabels : t.view === "matrix" ? this.matrixView.hiddenArcLabels : 0,
        level: t.level,
      }),
    );
  }

  /** The hovered token, unless a change of block has taken it out of view. */
  private shownHover(scene: Scene): Focus | null {
    return this.hover && isShown(scene.drawn, this.hover) ? this.hover : null;
  }

  private describe(s: ViewStats): string {
    const t = this.traits;
    const capped = s.capped ? " (the strongest; lower 'keep mass' or select fewer heads to see the rest)" : "";
    const drawn = this.scene?.drawn;
    return `${this.meta.model} · layer ${t.layer} · ${t.heads.length}/${this.meta.num_heads} heads · ${s.lines} of ${s.total} kept lines drawn${capped}${this.partText(t.level, drawn)}`;
  }

  /**
   * The attention kind, pair block or generation step shown, for the status line. A pair
   * block says how many query and key units it lays out (from `drawn` when given, else
   * counted at `level`: the model view's thumbnails are token level).
   */
  private partText(level: Traits["level"], drawn?: Drawn): string {
    const t = this.traits;
    const m = this.meta;
    const parts: string[] = [];
    if (m.window) parts.push(`text tokens ${m.window.start}–${m.window.stop - 1} of ${m.window.of}`);
    if (m.kind && m.kind !== "self") parts.push(m.kind === "cross" ? "cross-attention: decoder → source" : `${m.kind} self-attention`);
    if (m.split?.names[0] === "A" && t.pair_filter !== "all") {
      const units = (level === "word" && m.levels.word) || m.levels.token;
      const split = splitUnit(m, units);
      const n = units.labels.length;
      const block = split === null ? null : pairRanges(t.pair_filter, split, n, n);
      const rows = drawn ? drawn.rowAxis.units.length : block ? block.rows[1] - block.rows[0] : n;
      const cols = drawn ? drawn.colAxis.units.length : block ? block.cols[1] - block.cols[0] : n;
      const what = level === "word" && m.levels.word ? "words" : "tokens";
      parts.push(`pair block ${t.pair_filter.replace("->", " → ")}: ${rows} query × ${cols} key ${what}`);
    }
    if (m.split && m.split.names[0] !== "A") {
      if (t.step === null) parts.push(`${m.split.at} prompt + ${m.num_tokens - m.split.at} generated tokens`);
      else {
        const written = m.tokens[m.split.at + t.step];
        const from = m.tokens[m.split.at + t.step - 1];
        parts.push(`step ${t.step + 1}: writing ${JSON.stringify(written)} from ${JSON.stringify(from)}`);
      }
    }
    return parts.length ? ` · ${parts.join(" · ")}` : "";
  }

  private drawn() {
    this.draws += 1;
    if (this.draws === 1) this.root.dataset.firstPaintMs = (performance.now() - this.created).toFixed(1); // bench_widget.py
    this.root.dataset.draws = String(this.draws);
    // When the last draw ended (page clock): the frame it made is painted right after this
    // animation frame's callbacks, so benches time a step to here, not to a later poll.
    this.root.dataset.drawnAt = performance.now().toFixed(1);
    this.root.dataset.layerBytes = String(this.source.layerBytes + (this.long?.source.cachedBytes ?? 0));
    this.root.dataset.view = this.traits.view;
    this.root.dataset.layer = String(this.traits.layer);
    // The locked token as the traits hold it (original index), for tests and hosts.
    const t = this.traits;
    this.root.dataset.token = t.token === null || t.token === undefined ? "" : `${t.token_role} ${t.token}`;
  }

  private setStatus(s: string) {
    this.status.textContent = s;
  }

  /**
   * The head / matrix view's axes as DOM lists: each item is a shown unit's label, in
   * shown order, with its original index (data-unit; numbered index + 1, as the plain
   * token list numbers it). A pair block lists only its queries and its keys.
   */
  private syncShownLists(scene: Scene) {
    const axes = [
      [this.shownLists.query, scene.drawn.rowAxis.units, scene.syntax.labels],
      [this.shownLists.key, scene.drawn.colAxis.units, scene.keyLabels],
    ] as const;
    for (const [ol, units, labels] of axes) {
      const key = `${units.join()}\u0001${labels.join("\u0000")}`;
      if (ol.dataset.key === key) continue;
      ol.dataset.key = key;
      ol.replaceChildren(
        ...Array.from(units, (u) => {
          const li = this.doc.createElement("li");
          li.value = u + 1; // list numbering from 1, like the plain token list
          li.dataset.unit = String(u);
          li.textContent = labels[u];
          return li;
        }),
      );
    }
  }

  /** Tokens as plain text in the DOM, for screen readers and text search. */
  private syncTokenList(syntax: UnitSyntax) {
    const key = syntax.labels.join("\u0000");
    if (this.tokenList.dataset.key === key) return;
    this.tokenList.dataset.key = key;
    this.tokenList.replaceChildren(
      ...syntax.labels.map((s) => {
        const li = this.doc.createElement("li");
        li.textContent = s;
        return li;
      }),
    );
  }

  private showTooltip(text: string | null, ev?: MouseEvent) {
    if (!text || !ev) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.hidden = false;
    this.tooltip.textContent = text; // text, never markup
    const r = this.root.getBoundingClientRect();
    this.tooltip.style.left = `${ev.clientX - r.left + 14}px`;
    this.tooltip.style.top = `${ev.clientY - r.top + 14}px`;
  }

  /** A unit's label (and UPOS) as a query or a key: keys are the source tokens under cross-attention. */
  private unitText(u: number, role: Focus["role"] = "query"): string {
    const { syntax: s, keyLabels } = this.scene!;
    const label = role === "key" ? keyLabels[u] : s.labels[u];
    const tag = (role === "query" || keyLabels === s.labels) && s.upos?.[u] ? `  ${s.upos[u]}` : "";
    return `${JSON.stringify(label)}${tag}`;
  }

  private onHeadHover(target: Focus | null, ev: MouseEvent) {
    const same = target?.unit === this.hover?.unit && target?.role === this.hover?.role;
    this.hover = target;
    const relation =
      target && this.scene && (target.role === "query" || this.scene.keyLabels === this.scene.syntax.labels)
        ? relationText(this.scene.syntax, target.unit)
        : "";
    this.showTooltip(
      target && this.scene
        ? `${target.role} ${target.unit}: ${this.unitText(target.unit, target.role)}${relation ? `\n${relation}` : ""}`
        : null,
      ev,
    );
    if (!same) this.drawCurrent();
  }

  private onHeadClick(target: Focus | null) {
    this.lockToken(target);
  }

  /** Click locks a token; clicking it again (or empty space) unlocks. */
  private lockToken(target: Focus | null) {
    const t = this.traits;
    if (!target || (t.token === target.unit && t.token_role === target.role)) writeTraits(this.widgetModel, { token: null });
    else writeTraits(this.widgetModel, { token: target.unit, token_role: target.role });
  }

  private onCellHover(cell: { row: number; col: number; value: number } | null, ev: MouseEvent) {
    this.cellHover = cell;
    const text = cell && this.scene ? `${this.unitText(cell.row)} → ${this.unitText(cell.col, "key")}: ${cell.value.toFixed(4)}` : null;
    this.showTooltip(text, ev);
    this.drawCurrent();
  }

  private onGridHover(g: { layer: number; head: number } | null, ev: MouseEvent) {
    this.gridHover = g;
    this.showTooltip(g ? `layer ${g.layer}, head ${g.head}` : null, ev);
    if (this.thumbs) this.modelView.render(this.modelViewScene(this.palette(), this.thumbs), g);
  }

  /** PNG of the on-screen canvas, SVG redrawn as vector shapes and text. */
  download(kind: "png" | "svg") {
    const t = this.traits;
    const pair = this.meta.split?.names[0] === "A" && t.pair_filter !== "all" && t.view !== "neuron";
    const block = pair ? `-${t.pair_filter.replace("->", "to")}` : "";
    const name = `attnwidget-${t.view}-layer${t.layer}${block}.${kind}`;
    if (t.view === "neuron") {
      const out = this.neuronView.paintFull(kind);
      if (out instanceof SvgPainter) this.save(new Blob([out.toString()], { type: "image/svg+xml" }), name);
      else out?.toBlob((blob) => blob && this.save(blob, name), "image/png");
      return;
    }
    const surface = { head: this.headView, matrix: this.matrixView, model: this.modelView }[t.view].surface;
    if (kind === "png") {
      // The head view shows a window of a tall drawing: export all of it.
      const canvas =
        t.view === "head" && this.scene
          ? this.headView.paintFull(this.scene, this.scene.selected ?? this.shownHover(this.scene))
          : surface.canvas;
      canvas.toBlob((blob) => blob && this.save(blob, name), "image/png");
      return;
    }
    const size = t.view === "head" && this.scene ? this.headView.layoutFor(this.scene) : surface;
    const svg = new SvgPainter(size.width, size.height);
    const palette = this.palette();
    if (t.view === "model") this.modelView.paint(svg, this.modelViewScene(palette, this.thumbs));
    else if (this.scene && t.view === "head") this.headView.paint(svg, this.scene, this.scene.selected ?? this.shownHover(this.scene));
    else if (this.scene) this.matrixView.paint(svg, this.scene);
    this.save(new Blob([svg.toString()], { type: "image/svg+xml" }), name);
  }

  private save(blob: Blob, name: string) {
    const a = this.doc.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    this.root.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
}

/** Layers to fetch ahead from `layer`: the next, the previous, then outwards (+2, -2, ...). */
export function prefetchOrder(layer: number, layers: number): number[] {
  const out: number[] = [];
  for (let d = 1; d < layers; d++) {
    for (const l of [layer + d, layer - d]) if (l >= 0 && l < layers) out.push(l);
  }
  return out;
}
