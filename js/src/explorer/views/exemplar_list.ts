// A head's exemplar sentences, marked as in the paper's Tables 1-3: the
// attending token bold, the attended token underlined. Every token is a text
// node (tokens are arbitrary text; markup in them must stay text).

import type { Exemplar } from "../data/grids";
import { formatValue } from "../data/rank";
import { layoutTokens } from "../data/tokens";

export interface ExemplarHandlers {
  open(rank: number): void;
}

function sentence(doc: Document, e: Exemplar): HTMLElement {
  const p = doc.createElement("p");
  p.className = "ax-sentence";
  for (const seg of layoutTokens(e.text, e.tokens)) {
    if (seg.kind === "gap") {
      p.appendChild(doc.createTextNode(seg.text));
      continue;
    }
    const tag = seg.index === e.i ? "b" : seg.index === e.j ? "u" : "span";
    const node = doc.createElement(tag);
    node.textContent = seg.text;
    if (seg.kind === "extra") node.classList.add("ax-extra");
    if (tag !== "span") node.dataset.role = tag === "b" ? "attending" : "attended";
    p.appendChild(node);
    if (seg.kind === "extra") p.appendChild(doc.createTextNode(" "));
  }
  return p;
}

/** Render `exemplars` into `list`; `openable` makes each one a button that opens it. */
export function renderExemplars(
  list: HTMLOListElement,
  exemplars: Exemplar[],
  openable: boolean,
  opened: number | null,
  handlers: ExemplarHandlers,
) {
  const doc = list.ownerDocument;
  list.replaceChildren(
    ...exemplars.map((e) => {
      const li = doc.createElement("li");
      li.className = "ax-exemplar";
      li.dataset.rank = String(e.rank);
      if (opened === e.rank) li.setAttribute("aria-current", "true");
      const head = doc.createElement("div");
      head.className = "ax-exemplar-head";
      const from = e.tokens[e.i] ?? "?";
      const to = e.tokens[e.j] ?? "?";
      head.textContent = `#${e.rank + 1} · sentence ${e.sentence} · ${JSON.stringify(from)} → ${JSON.stringify(to)} · weight ${formatValue(e.weight)}`;
      li.append(head, sentence(doc, e));
      if (openable) {
        li.tabIndex = 0;
        li.setAttribute("role", "button");
        li.title = "open in the attention view";
        li.addEventListener("click", () => handlers.open(e.rank));
        li.addEventListener("keydown", (ev) => {
          if (ev.key === "Enter" || ev.key === " ") {
            ev.preventDefault();
            handlers.open(e.rank);
          }
        });
      }
      return li;
    }),
  );
}
