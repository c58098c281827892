// Lay a sentence's model tokens back into its text, so an exemplar reads as the
// sentence (as in the paper's Tables 1-3) while each token stays addressable.
// Tokens are slices of the text; special tokens ([CLS], <|endoftext|>) and the
// continuation pieces of a split character are not, and are shown apart.

export type Segment =
  | { kind: "gap"; text: string }
  | { kind: "token"; text: string; index: number }
  | { kind: "extra"; text: string; index: number };

export function layoutTokens(text: string, tokens: string[]): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  tokens.forEach((token, index) => {
    const body = token.replace(/^\s+/, "");
    const at = body ? text.indexOf(body, pos) : -1;
    if (at >= 0 && text.slice(pos, at).trim() === "") {
      if (at > pos) out.push({ kind: "gap", text: text.slice(pos, at) });
      out.push({ kind: "token", text: body, index });
      pos = at + body.length;
    } else {
      out.push({ kind: "extra", text: token, index });
    }
  });
  if (pos < text.length) out.push({ kind: "gap", text: text.slice(pos) });
  return out;
}
