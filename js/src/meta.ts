// The sentence description sent once by attnwidget/payload.py (`_meta` trait).

export interface Units {
  /** Display string of each unit (token or word). */
  labels: string[];
  /** Word index of each unit, -1 for tokens outside any word ([CLS], <|endoftext|>). */
  word: number[];
  /** Unit index of each model token (identity at token level). */
  of_token: number[];
}

export interface Meta {
  model: string;
  num_layers: number;
  num_heads: number;
  num_tokens: number;
  is_causal: boolean;
  packing: "tril" | "full";
  tokens: string[];
  syntax: null | {
    source: string; // "spacy" | "gold"
    words: string[];
    upos: (string | null)[];
    head: number[]; // head word of each word, -1 = root
    deprel: (string | null)[];
  };
  levels: { token: Units; word?: Units };
}

export type Level = "token" | "word";
