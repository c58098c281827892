// The sentence description sent once by attnwidget/widget/payload.py (`_meta` trait).

export interface Units {
  /** Display string of each unit (token or word). */
  labels: string[];
  /** Word index of each unit, -1 for tokens outside any word ([CLS], <|endoftext|>). */
  word: number[];
  /** Unit index of each transformer token (identity at token level). */
  of_token: number[];
}

/** Two parts of one input: a sentence pair (A / B) or a prompt and its continuation. */
export interface Split {
  at: number; // first token of the second part
  names: [string, string];
}

export interface Meta {
  /** The transformer's name (the wire field is `model`, as attnwidget/widget/payload.py writes it). */
  model: string;
  num_layers: number;
  num_heads: number;
  num_tokens: number; // rows (attending tokens)
  is_causal: boolean;
  packing: "tril" | "full";
  tokens: string[];
  /** Which attention of the input this is: "self", or "encoder" | "decoder" | "cross". */
  kind?: string;
  /** Every attention the input has (the kind selector), e.g. ["encoder", "decoder", "cross"]. */
  kinds?: string[];
  /** Columns when they are other tokens than the rows (cross-attention: the source). */
  num_keys?: number;
  key_tokens?: string[] | null;
  split?: Split | null;
  /** Key/value head of each query head under grouped-query attention. */
  kv_heads?: number[] | null;
  /** The part of a longer text the transformer read (`window=`): its tokens start..stop-1 of `of`. */
  window?: { start: number; stop: number; of: number } | null;
  /** The heads the widget opened on and the rule that chose them (attnwidget/default_heads.py);
   * null when the caller chose the heads. */
  default_heads?: { layer: number; heads: number[]; of: number; rule: string } | null;
  /** True when the kernel has the transformer, so the neuron view can fetch vectors. */
  neuron?: boolean;
  syntax: null | {
    source: string; // "spacy" | "gold"
    words: string[];
    upos: (string | null)[];
    head: number[]; // head word of each word, -1 = root
    deprel: (string | null)[];
  };
  levels: { token: Units; word?: Units };
}
