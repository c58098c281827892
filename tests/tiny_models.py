"""Small models of each family built from a config, with tokenizers trained offline.

Real architectures and real tokenizer algorithms (byte-level BPE as GPT-2, WordPiece as
BERT, a SentencePiece-style Unigram as T5), trained on the bundled sample corpus so no
download is needed. Weights are random: these test plumbing, not linguistics.
"""

from __future__ import annotations

from functools import cache

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from attnwidget.data import sample_corpus


def _corpus() -> list[str]:
    # Extra characters so byte-level and unigram vocabularies see them at least once.
    return sample_corpus() + ["naïve café 東京 😀 — “quotes” 1,000.50 http://example.com/a-b"]


@cache
def gpt2_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=128,
    )


@cache
def wordpiece_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=800, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(_corpus(), trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


@cache
def unigram_tokenizer() -> PreTrainedTokenizerFast:
    """SentencePiece-style: Metaspace pre-tokenizer ('▁' for spaces) and a Unigram model."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=700, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tok.train_from_iterator(_corpus(), trainer)
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>", model_max_length=128
    )


def tiny_gpt2(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(seed)
    tok = gpt2_tokenizer()
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=128,
        n_embd=32,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return GPT2Model(config), tok


def tiny_bert(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    tok = wordpiece_tokenizer()
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
    )
    return BertModel(config), tok


def tiny_t5(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    from transformers import T5Config, T5Model

    torch.manual_seed(seed)
    tok = unigram_tokenizer()
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=n_layer,
        num_heads=n_head,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
    )
    return T5Model(config), tok


# --- Families of issue 6: rotary + grouped-query decoders, more encoders, seq2seq. ---


def _rotary_config(config_class, tok, n_layer, n_head, n_kv_head, **extra):
    """Rotary embeddings and grouped-query attention: n_kv_head < n_head shares each key/value."""
    return config_class(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        num_key_value_heads=n_kv_head,
        head_dim=32 // n_head,
        max_position_embeddings=128,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
        **extra,
    )


def _rotary_model(family: str, lm_head: bool, n_layer: int, n_head: int, n_kv_head: int, seed: int):
    import transformers

    torch.manual_seed(seed)
    tok = gpt2_tokenizer()
    config_class = getattr(transformers, f"{family}Config")
    extra = {"sliding_window": None} if family in {"Mistral", "Qwen2"} else {}
    config = _rotary_config(config_class, tok, n_layer, n_head, n_kv_head, **extra)
    model_class = getattr(transformers, f"{family}ForCausalLM" if lm_head else f"{family}Model")
    return model_class(config), tok


def tiny_llama(n_layer: int = 2, n_head: int = 4, n_kv_head: int = 2, seed: int = 0, lm_head: bool = False):
    """Llama-shaped: RMSNorm, rotary embeddings, grouped-query attention (2 queries per key)."""
    return _rotary_model("Llama", lm_head, n_layer, n_head, n_kv_head, seed)


def tiny_qwen2(n_layer: int = 2, n_head: int = 4, n_kv_head: int = 2, seed: int = 0, lm_head: bool = False):
    """Qwen2-shaped: as Llama, with biases on the query/key/value projections."""
    return _rotary_model("Qwen2", lm_head, n_layer, n_head, n_kv_head, seed)


def tiny_mistral(n_layer: int = 2, n_head: int = 4, n_kv_head: int = 1, seed: int = 0, lm_head: bool = False):
    """Mistral-shaped: rotary, and every query head shares one key/value head (multi-query)."""
    return _rotary_model("Mistral", lm_head, n_layer, n_head, n_kv_head, seed)


def tiny_gpt2_lm(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    """GPT-2 with its language-model head, for generation."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    tok = gpt2_tokenizer()
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=128,
        n_embd=32,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return GPT2LMHeadModel(config), tok


@cache
def roberta_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE with RoBERTa's specials: ``<s> A </s>`` and ``<s> A </s></s> B </s>``."""
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_corpus(), trainer)
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")),
        ("<s>", tok.token_to_id("<s>")),
        trim_offsets=False,
        add_prefix_space=False,
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=128,
        model_input_names=["input_ids", "attention_mask"],
    )


def tiny_roberta(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(seed)
    tok = roberta_tokenizer()
    # RoBERTa numbers positions from pad_token_id + 1, so the table needs two extra rows.
    config = RobertaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        intermediate_size=64,
        max_position_embeddings=130,
        type_vocab_size=1,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return RobertaModel(config), tok


@cache
def distilbert_tokenizer() -> PreTrainedTokenizerFast:
    """The WordPiece tokenizer without token type ids: DistilBERT's forward takes none."""
    return PreTrainedTokenizerFast(
        tokenizer_object=wordpiece_tokenizer().backend_tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
        model_input_names=["input_ids", "attention_mask"],
    )


def tiny_distilbert(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(seed)
    tok = distilbert_tokenizer()
    config = DistilBertConfig(
        vocab_size=len(tok),
        dim=32,
        n_layers=n_layer,
        n_heads=n_head,
        hidden_dim=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
    )
    return DistilBertModel(config), tok


def tiny_bart(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    """BART-shaped encoder-decoder with the RoBERTa-style byte-level BPE tokenizer."""
    from transformers import BartConfig, BartModel

    torch.manual_seed(seed)
    tok = roberta_tokenizer()
    config = BartConfig(
        vocab_size=len(tok),
        d_model=32,
        encoder_layers=n_layer,
        decoder_layers=n_layer,
        encoder_attention_heads=n_head,
        decoder_attention_heads=n_head,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
        forced_eos_token_id=None,
    )
    return BartModel(config), tok


def tiny_marian(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    """Marian-shaped encoder-decoder (sinusoidal positions) with the SentencePiece-style tokenizer."""
    from transformers import MarianConfig, MarianModel

    torch.manual_seed(seed)
    tok = unigram_tokenizer()
    config = MarianConfig(
        vocab_size=len(tok),
        decoder_vocab_size=len(tok),
        d_model=32,
        encoder_layers=n_layer,
        decoder_layers=n_layer,
        encoder_attention_heads=n_head,
        decoder_attention_heads=n_head,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
    )
    return MarianModel(config), tok


def llama_long(
    n_layer: int = 32, n_head: int = 32, n_kv_head: int = 8, head_dim: int = 16, window: int = 8192, seed: int = 0
):
    """Llama-shaped for long inputs: 32 layers x 32 heads (8 key heads) of 16 dims, an 8,192-token
    window, sdpa attention; small enough to run 8,192 tokens on a CPU (273 MB of weights)."""
    import copy

    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(seed)
    tok = copy.deepcopy(gpt2_tokenizer())
    tok.model_max_length = window
    hidden = n_head * head_dim
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        num_key_value_heads=n_kv_head,
        head_dim=head_dim,
        max_position_embeddings=window,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    return LlamaModel(config).eval(), tok


def causal_softmax_attention(layers: int, heads: int, n: int, seed: int = 0):
    """float32 ``[layers, heads, n, n]``: softmax of random scores (x3) with a sink on token 0,
    lower triangle only, made a layer at a time (bench/long_inputs.py's dense input, long-export tests)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((layers, heads, n, n), np.float32)
    future = np.triu(np.ones((n, n), bool), 1)
    for layer in range(layers):
        a = rng.standard_normal((heads, n, n), dtype=np.float32) * 3.0
        a[..., 0] += 4.0
        a[:, future] = -np.inf
        a -= a.max(-1, keepdims=True)
        np.exp(a, out=a)
        a /= a.sum(-1, keepdims=True)
        out[layer] = a
    return out
