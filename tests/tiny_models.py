"""Small models of each family built from a config, with tokenizers trained offline.

Real architectures and real tokenizer algorithms (byte-level BPE as GPT-2, WordPiece as
BERT, a SentencePiece-style Unigram as T5), trained on the bundled sample corpus so no
download is needed. Weights are random: these test plumbing, not linguistics.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from attnwidget.data import sample_corpus


def _corpus() -> list[str]:
    # Extra characters so byte-level and unigram vocabularies see them at least once.
    return sample_corpus() + ["naïve café 東京 😀 — “quotes” 1,000.50 http://example.com/a-b"]


@lru_cache(maxsize=None)
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


@lru_cache(maxsize=None)
def wordpiece_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=800, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
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


@lru_cache(maxsize=None)
def unigram_tokenizer() -> PreTrainedTokenizerFast:
    """SentencePiece-style: Metaspace pre-tokenizer ('▁' for spaces) and a Unigram model."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=700, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
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
        vocab_size=len(tok), n_positions=128, n_embd=32, n_layer=n_layer, n_head=n_head,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    return GPT2Model(config), tok


def tiny_bert(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    tok = wordpiece_tokenizer()
    config = BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=n_layer, num_attention_heads=n_head,
        intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id,
    )
    return BertModel(config), tok


def tiny_t5(n_layer: int = 2, n_head: int = 4, seed: int = 0):
    from transformers import T5Config, T5Model

    torch.manual_seed(seed)
    tok = unigram_tokenizer()
    config = T5Config(
        vocab_size=len(tok), d_model=32, d_kv=8, d_ff=64, num_layers=n_layer, num_heads=n_head,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.pad_token_id,
    )
    return T5Model(config), tok
